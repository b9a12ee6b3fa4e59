# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/runtime.yml's action groups: every module is in 'all' and in exactly one domain group (fleet, image), a
group names no missing module, and module_defaults given for a group reach its modules in a real play."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import ast
import glob
import os
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
ALL = 'all'
ENGINE_FRAGMENT = 'immutable.infra.engine'


def action_groups():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        return yaml.safe_load(handle)['action_groups']


def modules():
    return sorted(os.path.splitext(os.path.basename(path))[0]
                  for path in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py'))
                  if not os.path.basename(path).startswith('_'))


def members(groups, name, seen=()):
    """The modules of a group, its extend_group entries (groups of this collection) resolved."""
    assert name in groups, 'group %s is extended but not defined' % name
    assert name not in seen, 'groups extend each other in a cycle: %s' % ' > '.join(seen + (name,))
    result = set()
    for entry in groups[name]:
        if isinstance(entry, dict):
            assert set(entry) == {'metadata'}, 'group %s: a mapping entry may only be metadata' % name
            for other in entry['metadata'].get('extend_group', []):
                assert '.' not in other, 'group %s extends %s of another collection' % (name, other)
                result |= members(groups, other, seen + (name,))
        else:
            result.add(entry)
    return result


def module_documentation(name):
    with open(os.path.join(ROOT, 'plugins', 'modules', name + '.py')) as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'DOCUMENTATION' for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError('module %s has no DOCUMENTATION' % name)


def domain_groups():
    return sorted(name for name in action_groups() if name != ALL)


def test_the_groups_are_fleet_image_and_all():
    assert sorted(action_groups()) == ['all', 'fleet', 'image']


def test_every_module_is_in_all():
    missing = sorted(set(modules()) - members(action_groups(), ALL))
    assert not missing, 'modules not in group all: %s' % ', '.join(missing)


@pytest.mark.parametrize('module', modules())
def test_every_module_is_in_exactly_one_domain_group(module):
    groups = action_groups()
    found = [name for name in domain_groups() if module in members(groups, name)]
    assert len(found) == 1, 'module %s is in the domain groups %s, not in exactly one' % (module, found or 'none')


@pytest.mark.parametrize('group', sorted(action_groups()))
def test_a_group_names_no_missing_module(group):
    unknown = sorted(members(action_groups(), group) - set(modules()))
    assert not unknown, 'group %s names modules that do not exist: %s' % (group, ', '.join(unknown))


def test_the_fleet_modules_make_the_fleet_group():
    fleet = members(action_groups(), 'fleet')
    assert fleet == {name for name in modules() if name.startswith('fleet_')}


def test_every_fleet_module_takes_repository_and_docker_host():
    """group/immutable.infra.fleet defaults of the engine options never give a fleet module an unknown option."""
    for name in sorted(members(action_groups(), 'fleet')):
        assert ENGINE_FRAGMENT in module_documentation(name).get('extends_documentation_fragment', []), name


PLAY = '''
- name: module_defaults through an action group
  hosts: localhost
  connection: local
  gather_facts: false
  module_defaults:
    %(group)s:
      docker_host: unix://%(socket)s
  tasks:
    - name: Call the module with no engine option of its own
      immutable.infra.%(module)s:
      register: result
      ignore_errors: true
    - name: Print its message
      ansible.builtin.debug:
        msg: "MESSAGE {{ result.msg }}"
'''


@pytest.mark.parametrize('group,module', [
    ('group/immutable.infra.all', 'fleet_info'),
    ('group/immutable.infra.all', 'image_info'),
    ('group/immutable.infra.fleet', 'fleet_info'),
    ('group/immutable.infra.image', 'image_info'),
])
def test_module_defaults_of_a_group_reach_its_modules(tmp_path, group, module):
    """A play that sets docker_host once for the group: the module tries exactly that engine (a socket that does
    not exist, so no engine is reached) and says so."""
    socket = str(tmp_path / 'no-engine.sock')
    playbook = tmp_path / 'play.yml'
    playbook.write_text(PLAY % {'group': group, 'socket': socket, 'module': module})
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, '.state', 'collections'), ANSIBLE_NOCOLOR='1')
    bindir = os.path.dirname(sys.executable)
    run = subprocess.run([os.path.join(bindir, 'ansible-playbook'), '-i', 'localhost,', str(playbook),
                          '-e', 'ansible_python_interpreter=%s' % sys.executable],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    # The callback may fold a long message: compare with the whitespace made single spaces.
    assert 'cannot reach the Docker engine at unix://%s:' % socket in ' '.join(run.stdout.split()), run.stdout

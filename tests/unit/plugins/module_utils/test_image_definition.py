# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image definitions as inventory data: validation (image and field named), role resolution (project roles,
roles path, FQCN on a collections path, meta dependencies), bake key sources, Docker changes."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible_collections.immutable.infra.plugins.module_utils import bake
from ansible_collections.immutable.infra.plugins.module_utils.image_definition import (
    ImageDefinitionError, docker_changes, find_role, merge_images, normalize_container, resolve_chain,
    validate_definitions,
)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


def builtin_images():
    with open(os.path.join(ROOT, 'playbooks', 'vars', 'images.yml')) as handle:
        return yaml.safe_load(handle)['immutable_builtin_images']


def make_role(base, name, deps=(), task='- ansible.builtin.debug: {msg: hi}\n'):
    role = base / name
    (role / 'tasks').mkdir(parents=True)
    (role / 'tasks' / 'main.yml').write_text('---\n' + task)
    (role / 'meta').mkdir()
    (role / 'meta' / 'main.yml').write_text(yaml.safe_dump({'dependencies': list(deps)}))
    return role


def make_collection(base, namespace, name, version, manifest=True):
    path = base / 'ansible_collections' / namespace / name
    (path / 'roles').mkdir(parents=True)
    if manifest:
        (path / 'MANIFEST.json').write_text(json.dumps({'collection_info': {'version': version}}))
    else:
        (path / 'galaxy.yml').write_text('namespace: %s\nname: %s\nversion: %s\n' % (namespace, name, version))
    return path


@pytest.fixture
def project(tmp_path):
    """A project with roles/hello (which depends on immutable.infra.bake_guard), a collections path holding
    acme.tools (roles nginxish, with a dependency on its sibling common) and a second roles path."""
    proj = tmp_path / 'project'
    make_role(proj / 'roles', 'hello', deps=[{'role': 'immutable.infra.bake_guard'}])
    (proj / 'app').mkdir()
    (proj / 'app' / 'server.py').write_text('print(1)\n')
    (proj / 'tests').mkdir()
    (proj / 'tests' / 'test_hello.py').write_text('def test_ok():\n    pass\n')
    collections = tmp_path / 'collections'
    acme = make_collection(collections, 'acme', 'tools', '2.3.4')
    make_role(acme / 'roles', 'nginxish', deps=['common'])
    make_role(acme / 'roles', 'common')
    infra = make_collection(collections, 'immutable', 'infra', '0.1.0', manifest=False)
    make_role(infra / 'roles', 'bake_guard')
    other = tmp_path / 'shared-roles'
    make_role(other, 'shared')
    return {'dir': str(proj), 'collections': [str(collections)], 'roles_path': [str(proj / 'roles'), str(other)],
            'tmp': tmp_path}


def resolve(project, images, name='hello'):
    merged = merge_images(builtin_images(), images)
    return resolve_chain(merged, name, project['dir'], ROOT, project['roles_path'] + [os.path.join(ROOT, 'roles')],
                         project['collections'])


def hello(**fields):
    container = {'cmd': ['python3', '/srv/hello.py'], 'ports': [8081]}
    definition = {'parent': 'base', 'roles': ['hello'], 'container': container}
    definition.update(fields)
    return {'hello': definition}


# Validation: every bad definition fails naming the image and the field.

@pytest.mark.parametrize('fields, field, words', [
    ({'rolez': ['hello']}, 'rolez', 'unknown field'),
    ({'parent': 'nope'}, 'parent', "unknown parent image 'nope'"),
    ({'parent': {'image': 'debian'}}, 'parent', 'ref'),
    ({'parent': 'hello'}, 'parent', 'its own parent'),
    ({'roles': []}, 'roles', 'non-empty list'),
    ({'roles': ['not a role']}, 'roles', 'not a role name'),
    ({'roles': ['image_seal']}, 'roles', 'do not list it'),
    ({'vars': ['a']}, 'vars', 'mapping'),
    ({'inputs': ['/etc/passwd']}, 'inputs', 'absolute'),
    ({'inputs': ['../outside']}, 'inputs', 'leaves the project'),
    ({'tests': 5}, 'tests', 'list of paths'),
    ({'template': '/abs/t.pkr.hcl'}, 'template', 'absolute'),
    ({'initial_version': '1.0'}, 'initial_version', 'not a semantic version'),
    ({'container': {'ports': [70000]}}, 'container.ports', '70000 is not a port'),
    ({'container': {'ports': ['http']}}, 'container.ports', "'http' is not a port"),
    ({'container': {'ports': 8080}}, 'container.ports', 'list of ports'),
    ({'container': {'ports': [True]}}, 'container.ports', 'not a port'),
    ({'container': {'env': {'1BAD': 'x'}}}, 'container.env', 'not a variable name'),
    ({'container': {'env': {'GOOD': None}}}, 'container.env', 'the value of GOOD'),
    ({'container': {'env': ['A=1']}}, 'container.env', 'mapping'),
    ({'container': {'entrypoint': [1, 2]}}, 'container.entrypoint', 'list of strings'),
    ({'container': {'cmd': ''}}, 'container.cmd', 'must not be empty'),
    ({'container': {'user': 'a b'}}, 'container.user', 'not a user'),
    ({'container': {'workdir': 'srv'}}, 'container.workdir', 'absolute path'),
    ({'container': {'labels': {'io.immutable-infra.name': 'x'}}}, 'container.labels', 'reserved'),
    ({'container': {'labels': {'team': ['a']}}}, 'container.labels', 'the value of team'),
    ({'container': {'stop_signal': 'TERM now'}}, 'container.stop_signal', 'not a signal'),
    ({'container': {'restart': 'always'}}, 'container.restart', 'unknown field'),
    ({'container': 'nginx'}, 'container', 'mapping'),
])
def test_a_bad_definition_is_refused_naming_the_image_and_the_field(project, fields, field, words):
    with pytest.raises(ImageDefinitionError) as info:
        resolve(project, hello(**fields))
    message = str(info.value)
    assert 'image hello, field %s:' % field in message
    assert words in message
    assert 'nothing was baked' in message


def test_a_missing_role_is_refused_naming_the_image_the_field_and_where_it_was_looked_for(project):
    with pytest.raises(ImageDefinitionError) as info:
        resolve(project, hello(roles=['hello', 'nope']))
    assert 'image hello, field roles: role nope was not found on the roles path' in str(info.value)
    assert project['roles_path'][0] in str(info.value)


def test_a_missing_fqcn_role_names_the_collections_path(project):
    with pytest.raises(ImageDefinitionError) as info:
        resolve(project, hello(roles=['acme.tools.nope']))
    assert 'role acme.tools.nope was not found on the collections path %s' % project['collections'][0] \
        in str(info.value)


def test_a_missing_dependency_names_the_role_that_needs_it(project):
    make_role(project['tmp'] / 'project' / 'roles', 'needy', deps=['ghost'])
    with pytest.raises(ImageDefinitionError) as info:
        resolve(project, hello(roles=['needy']))
    assert 'image hello, field roles: role ghost (a dependency of role needy' in str(info.value)


def test_missing_inputs_tests_and_template_are_refused(project):
    for field, value in (('inputs', ['nope']), ('tests', ['tests/nope.py']), ('template', 'packer/x.pkr.hcl')):
        with pytest.raises(ImageDefinitionError) as info:
            resolve(project, hello(**{field: value}))
        assert 'image hello, field %s:' % field in str(info.value)
        assert 'does not exist' in str(info.value)


def test_every_problem_of_every_image_is_listed_at_once():
    merged = merge_images(builtin_images(), {'a': {'roles': ['x'], 'colour': 1}, 'b': {'parent': 'zz', 'roles': ['x']}})
    problems = validate_definitions(merged)
    assert any(p.startswith('image a, field colour:') for p in problems)
    assert any(p.startswith('image b, field parent:') for p in problems)


def test_a_parent_cycle_is_refused(project):
    images = {'one': {'parent': 'two', 'roles': ['hello']}, 'two': {'parent': 'one', 'roles': ['hello']}}
    with pytest.raises(ImageDefinitionError) as info:
        resolve(project, images, 'one')
    assert 'field parent: the parents form a cycle' in str(info.value)


def test_an_undefined_image_is_refused_with_the_defined_ones():
    with pytest.raises(ImageDefinitionError) as info:
        resolve_chain(merge_images(builtin_images(), {}), 'nope', '/tmp', ROOT, [], [])
    assert "image 'nope' is not defined. Defined images: base, lb, web" in str(info.value)


def test_the_inventory_must_give_mappings():
    with pytest.raises(ImageDefinitionError) as info:
        merge_images(builtin_images(), ['hello'])
    assert 'immutable_images must be a mapping' in str(info.value)


# Resolution.

def test_the_builtin_definitions_are_valid_and_resolve_in_the_collection(project):
    merged = merge_images(builtin_images(), {})
    assert validate_definitions(merged) == []
    chain = resolve_chain(merged, 'lb', project['dir'], ROOT, [], [])
    assert [image['name'] for image in chain] == ['base', 'lb']
    lb = chain[-1]
    assert lb['role_refs'] == [os.path.join(ROOT, 'roles', 'haproxy')]
    assert lb['role_names'] == ['haproxy']
    assert [r['name'] for r in lb['roles']] == ['haproxy', 'bake_guard']
    assert lb['tests'] == [os.path.join(ROOT, 'tests', 'image', 'test_lb.py')]
    assert lb['container']['ports'] == ['8080/tcp', '8404/tcp', '9999/tcp', '9998/tcp', '8403/tcp']
    labels = [s['label'] for s in lb['sources']]
    assert 'role:haproxy' in labels and 'immutable.infra:plugins/modules/image_files.py' in labels
    assert chain[0]['parent'] == {'kind': 'os', 'name': 'os', 'ref': ''}


def test_a_user_image_on_base_with_its_project_role_inputs_and_tests(project):
    chain = resolve(project, hello(inputs=['app'], tests=['tests/test_hello.py']))
    assert [image['name'] for image in chain] == ['base', 'hello']
    image = chain[-1]
    assert image['origin'] == 'project'
    assert image['role_refs'] == [os.path.join(project['dir'], 'roles', 'hello')]
    by_name = dict((r['name'], r) for r in image['roles'])
    assert by_name['immutable.infra.bake_guard']['collection'] == 'immutable.infra'
    assert by_name['immutable.infra.bake_guard']['collection_version'] == '0.1.0'  # from galaxy.yml
    assert by_name['immutable.infra.bake_guard']['ref'] == 'immutable.infra.bake_guard'
    labels = dict((s['label'], s['path']) for s in image['sources'])
    assert labels['role:hello'] == os.path.join(project['dir'], 'roles', 'hello')
    assert labels['project:app'] == os.path.join(project['dir'], 'app')
    assert image['tests'] == [os.path.join(project['dir'], 'tests', 'test_hello.py')]
    assert image['key_values']['container']['ports'] == ['8081/tcp']


def test_a_user_entry_replaces_the_builtin_one_of_the_same_name(project):
    chain = resolve(project, {'web': {'parent': 'os', 'roles': ['hello']}}, 'web')
    assert [image['name'] for image in chain] == ['web']
    assert chain[0]['origin'] == 'project'
    assert chain[0]['role_names'] == ['hello']
    assert chain[0]['tests'] == []  # the generic gate only


def test_roles_are_found_on_the_roles_path_in_order(project):
    chain = resolve(project, hello(roles=['shared']))
    assert chain[-1]['role_refs'] == [str(project['tmp'] / 'shared-roles' / 'shared')]
    make_role(project['tmp'] / 'project' / 'roles', 'shared')  # the project's roles/ comes first
    chain = resolve(project, hello(roles=['shared']))
    assert chain[-1]['role_refs'] == [os.path.join(project['dir'], 'roles', 'shared')]


def test_a_short_name_falls_back_to_the_collections_own_roles(project):
    chain = resolve(project, hello(roles=['webapp']))
    assert chain[-1]['role_refs'] == [os.path.join(ROOT, 'roles', 'webapp')]


def test_an_fqcn_role_of_another_collection_with_its_version_and_its_dependency(project):
    chain = resolve(project, hello(roles=['acme.tools.nginxish']))
    image = chain[-1]
    assert image['role_refs'] == ['acme.tools.nginxish']
    roles = dict((r['name'], r) for r in image['roles'])
    assert roles['acme.tools.nginxish']['collection_version'] == '2.3.4'  # from MANIFEST.json
    assert roles['acme.tools.common']['path'].endswith(os.path.join('acme', 'tools', 'roles', 'common'))
    assert {'label': 'role:acme.tools.common', 'path': roles['acme.tools.common']['path']} in image['sources']
    assert {'name': 'acme.tools.nginxish', 'collection': 'acme.tools', 'collection_version': '2.3.4'} \
        in image['key_values']['roles']


def test_find_role_looks_in_the_dependent_roles_folder_first(project):
    sibling = make_role(project['tmp'] / 'elsewhere', 'helper')
    make_role(project['tmp'] / 'elsewhere', 'main', deps=['helper'])
    within = find_role('main', [str(project['tmp'] / 'elsewhere')], [])
    found = find_role('helper', [], [], within=within)
    assert found['path'] == str(sibling)


def test_a_parent_image_ref_is_kept_for_the_bake(project):
    chain = resolve(project, hello(parent={'ref': 'debian:bookworm-slim'}))
    assert chain[-1]['parent'] == {'kind': 'ref', 'name': '', 'ref': 'debian:bookworm-slim'}
    assert len(chain) == 1


def test_a_chain_of_three_layers_is_baked_parent_first(project):
    images = dict(hello(), mid={'parent': 'base', 'roles': ['shared']})
    images['hello']['parent'] = 'mid'
    assert [i['name'] for i in resolve(project, images)] == ['base', 'mid', 'hello']


# The bake key over the user's content.

def test_the_bake_key_changes_when_one_file_of_a_role_changes_and_not_with_where_the_project_lives(project):
    image = resolve(project, hello())[-1]
    key = bake.compute_bake_key(None, [], {'v': 1}, image['sources'])
    assert bake.compute_bake_key(None, [], {'v': 1}, image['sources']) == key
    task = project['tmp'] / 'project' / 'roles' / 'hello' / 'tasks' / 'main.yml'
    task.write_text(task.read_text() + '- ansible.builtin.debug: {msg: changed}\n')
    changed = bake.compute_bake_key(None, [], {'v': 1}, image['sources'])
    assert changed != key
    moved = project['tmp'] / 'moved'
    os.rename(project['dir'], str(moved))
    project['dir'] = str(moved)
    project['roles_path'][0] = str(moved / 'roles')
    moved_image = resolve(project, hello())[-1]
    assert bake.compute_bake_key(None, [], {'v': 1}, moved_image['sources']) == changed


def test_the_bake_key_covers_the_collection_modules_a_role_calls(project):
    make_role(project['tmp'] / 'project' / 'roles', 'files', task='- immutable.infra.image_files: {files: []}\n')
    image = resolve(project, hello(roles=['files']))[-1]
    labels = [s['label'] for s in image['sources']]
    assert 'immutable.infra:plugins/modules/image_files.py' in labels
    assert 'immutable.infra:plugins/module_utils/image_files.py' in labels


# Container settings and Packer's changes.

def test_changes_of_web_match_the_former_template():
    container = normalize_container(builtin_images()['web']['container'])
    changes = docker_changes('web', container, [('io.immutable-infra.bake-key', 'k' * 64)])
    assert changes[0] == ('LABEL org.opencontainers.image.title="web" io.immutable-infra.name="web" '
                          'io.immutable-infra.bake-key="%s"' % ('k' * 64))
    assert changes[1:] == ['ENTRYPOINT ["/usr/sbin/nginx"]', 'CMD ["-g", "daemon off;"]', 'EXPOSE 8080/tcp']


def test_changes_of_every_setting_with_quoting():
    container = normalize_container({
        'entrypoint': 'exec /srv/run "$HOME"', 'ports': [8081, '53/udp'], 'user': 'app', 'workdir': '/srv',
        'env': {'B': 'two words', 'A': True}, 'labels': {'team': 'a"b'}, 'stop_signal': 'SIGQUIT'})
    changes = docker_changes('hello', container, [])
    assert changes == [
        'LABEL org.opencontainers.image.title="hello" io.immutable-infra.name="hello" '
        'io.immutable-infra.stop-signal="SIGQUIT" team="a\\"b"',
        'ENTRYPOINT ["/bin/sh", "-c", "exec /srv/run \\"$HOME\\""]',
        'CMD []',
        'EXPOSE 8081/tcp 53/udp',
        'ENV A="true" B="two words"',
        'USER app',
        'WORKDIR /srv',
    ]
    assert docker_changes('x', normalize_container({}), [('k', 'a$b')])[0].endswith('k="a\\$b"')


def test_an_image_without_entrypoint_or_command_keeps_its_parents():
    parent = {'Entrypoint': ['/usr/bin/env'], 'Cmd': ['bash']}
    assert docker_changes('x', normalize_container({}), [], parent)[1:3] == [
        'ENTRYPOINT ["/usr/bin/env"]', 'CMD ["bash"]']
    assert docker_changes('x', normalize_container({'cmd': ['python3']}), [], parent)[1:3] == [
        'ENTRYPOINT ["/usr/bin/env"]', 'CMD ["python3"]']
    assert docker_changes('x', normalize_container({}), [], {'Entrypoint': None, 'Cmd': None})[1:3] == [
        'ENTRYPOINT []', 'CMD []']

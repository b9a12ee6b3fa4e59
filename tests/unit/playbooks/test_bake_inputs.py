# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bake key covers everything that goes into an image: every collection module a bake role calls, and the
module_utils those modules import, must be among the image's inputs (playbooks/vars/images.yml)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))
MODULE_CALL = re.compile(r'^\s*-?\s*immutable\.infra\.([a-z_]+):', re.M)
UTILS_IMPORT = re.compile(r'ansible_collections\.immutable\.infra\.plugins\.module_utils\.([a-z_]+)')
ALWAYS = ['bake_guard', 'image_seal']


def load_images():
    with open(os.path.join(ROOT, 'playbooks', 'vars', 'images.yml')) as handle:
        return yaml.safe_load(handle)


def role_closure(roles):
    """The roles and, recursively, their meta dependencies."""
    seen, todo = [], list(roles)
    while todo:
        role = todo.pop(0)
        if role in seen:
            continue
        seen.append(role)
        with open(os.path.join(ROOT, 'roles', role, 'meta', 'main.yml')) as handle:
            meta = yaml.safe_load(handle) or {}
        for dep in meta.get('dependencies') or []:
            todo.append(dep['role'] if isinstance(dep, dict) else dep)
    return seen


def needed_files(roles):
    """plugins/modules/<m>.py for every immutable.infra module the roles' tasks call, plus the module_utils
    files those import, recursively."""
    needed, todo = set(), []
    for role in roles:
        for path in glob.glob(os.path.join(ROOT, 'roles', role, '**', '*.yml'), recursive=True):
            with open(path) as handle:
                todo += ['plugins/modules/%s.py' % m for m in MODULE_CALL.findall(handle.read())]
    while todo:
        rel = todo.pop()
        if rel in needed:
            continue
        needed.add(rel)
        with open(os.path.join(ROOT, rel)) as handle:
            todo += ['plugins/module_utils/%s.py' % m for m in UTILS_IMPORT.findall(handle.read())]
    return needed


def covered(path, inputs):
    return any(path == i or path.startswith(i.rstrip('/') + '/') for i in inputs)


@pytest.mark.parametrize('image', sorted(load_images()['immutable_builtin_images']))
def test_every_module_a_bake_runs_is_part_of_the_bake_key(image):
    data = load_images()
    definition = data['immutable_builtin_images'][image]
    roles = role_closure(definition['roles'] + ALWAYS)
    inputs = (data['immutable_bake_common_inputs'] + definition.get('inputs', [])
              + ['roles/%s' % r for r in definition['roles']])
    missing = sorted(p for p in needed_files(roles) if not covered(p, inputs))
    assert not missing, ('the bake of %s runs %s but they are not among its inputs (add them to inputs or '
                         'immutable_bake_common_inputs in playbooks/vars/images.yml)' % (image, ', '.join(missing)))


def test_the_check_sees_modules_and_their_module_utils():
    found = needed_files(['image_seal'])
    assert 'plugins/modules/image_manifest.py' in found
    assert 'plugins/module_utils/semver.py' in found  # imported by module_utils/image_manifest.py

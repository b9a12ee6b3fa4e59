#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_definition
short_description: Validate the image definitions and resolve the image to bake with its parents
version_added: 0.2.0
author: immutable.infra contributors (@immutable-infra)
description:
  - The first step of C(immutable.infra.bake). Merges the collection's built-in image definitions with the
    inventory's C(immutable_images) (a user entry replaces the built-in one of the same name), validates every
    definition (unknown fields, parents, roles, inputs, tests, template, container settings) and fails naming the
    image and the field before anything is baked.
  - Resolves the image to bake and its parent chain, parent first - the roles applied (found on the roles path,
    or by FQCN on the collections path, with their meta dependencies and, for a collection role, the collection's
    version), the files that go into the bake key, the container settings, the tests and the Packer template.
  - Runs on the controller; reads files only.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The image to bake.
    type: str
    required: true
  builtin:
    description: The collection's built-in definitions (C(immutable_builtin_images)); paths relative to I(collection_root).
    type: dict
    required: true
  images:
    description: The user's definitions (the inventory's C(immutable_images)); paths relative to I(project_dir).
    type: dict
    default: {}
  project_dir:
    description:
      - The user's project directory (C(immutable_project_dir)); its C(roles/) is searched first for roles given
        by name, and the paths of its definitions are relative to it.
      - Default the module's current directory (for a local task, that of the playbook); C(immutable.infra.bake)
        passes C(immutable_project_dir), by default the directory ansible-playbook runs from (C(PWD)).
    type: path
  collection_root:
    description: The folder of this collection (its roles, template, tests and plugins).
    type: path
    required: true
  roles_path:
    description:
      - Folders where roles given by name are looked up, in order (Ansible's C(DEFAULT_ROLES_PATH)), after the
        project's C(roles/); the collection's own C(roles/) is searched last.
    type: list
    elements: path
    default: []
  collections_paths:
    description:
      - Folders where roles given by FQCN are looked up (Ansible's C(COLLECTIONS_PATHS)); the C(ansible_collections)
        folders on the controller's Python path are searched after them, as Ansible does.
    type: list
    elements: path
    default: []
  common_inputs:
    description: Collection-relative files and folders every bake applies (template variables, provision play, seal).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    details: Reads files only.
  diff_mode:
    support: none
  platform:
    platforms: posix
'''

EXAMPLES = r'''
- name: Resolve the image hello defined in the inventory
  immutable.infra.image_definition:
    name: hello
    builtin: "{{ immutable_builtin_images }}"
    images: "{{ immutable_images | default({}) }}"
    project_dir: "{{ immutable_project_dir }}"
    collection_root: "{{ playbook_dir | dirname }}"
    roles_path: "{{ lookup('ansible.builtin.config', 'DEFAULT_ROLES_PATH') }}"
    collections_paths: "{{ lookup('ansible.builtin.config', 'COLLECTIONS_PATHS') }}"
  register: definition
'''

RETURN = r'''
chain:
  description:
    - The images to bake, parent first, the image asked for last. Each has C(name), C(origin) (C(collection) or
      C(project)), C(parent) (C(kind) os, image or ref, C(name), C(ref)), C(roles) (every role applied, with
      C(name), C(path), C(collection), C(collection_version), C(ref)), C(role_names) and C(role_refs) (the listed
      roles, as the manifest records them and as the provision play includes them), C(sources) (labelled files of
      the bake key), C(key_values), C(vars), C(container) (normalized), C(tests), C(template), C(initial_version).
  returned: success
  type: list
  elements: dict
roles_path:
  description: The roles path a bake's Ansible gets (ANSIBLE_ROLES_PATH), in order.
  returned: success
  type: list
  elements: str
collections_paths:
  description: The collections path a bake's Ansible gets (ANSIBLE_COLLECTIONS_PATH), in order.
  returned: success
  type: list
  elements: str
project_dir:
  description: The project directory the definitions were resolved in.
  returned: success
  type: str
  sample: /home/me/hello-project
images:
  description: Every defined image name.
  returned: success
  type: list
  elements: str
  sample: [base, hello, lb, web]
'''

import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.image_definition import (
    COLLECTION, ImageDefinitionError, merge_images, resolve_chain,
)


def _unique(paths):
    seen, result = set(), []
    for path in paths:
        path = os.path.abspath(path)
        if path not in seen:
            seen.add(path)
            result.append(path)
    return result


def run(params):
    root = params['collection_root']
    project_dir = params['project_dir'] or os.getcwd()
    roles_path = _unique([os.path.join(project_dir, 'roles')] + list(params['roles_path']) + [os.path.join(root, 'roles')])
    collections_paths = _unique(params['collections_paths'])
    search = collections_paths + _unique(p for p in sys.path if p and os.path.isdir(os.path.join(p, 'ansible_collections')))
    merged = merge_images(params['builtin'], params['images'])
    chain = resolve_chain(merged, params['name'], project_dir, root, roles_path, search)
    for image in chain:
        common = [{'label': '%s:%s' % (COLLECTION, rel), 'path': os.path.join(root, rel)}
                  for rel in params['common_inputs']]
        missing = [c['path'] for c in common if not os.path.exists(c['path'])]
        if missing:
            raise ImageDefinitionError('the collection at %s lacks %s: is it complete?' % (root, ', '.join(missing)))
        image['sources'] = common + image['sources']
    return dict(changed=False, chain=chain, roles_path=roles_path, collections_paths=collections_paths,
                images=sorted(merged), project_dir=project_dir)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            builtin=dict(type='dict', required=True),
            images=dict(type='dict', default={}),
            project_dir=dict(type='path'),
            collection_root=dict(type='path', required=True),
            roles_path=dict(type='list', elements='path', default=[]),
            collections_paths=dict(type='list', elements='path', default=[]),
            common_inputs=dict(type='list', elements='str', default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module.params))
    except ImageDefinitionError as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()

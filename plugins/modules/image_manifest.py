#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: image_manifest
short_description: Write the provenance manifest of a sealed image
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Writes the manifest that marks a host as a sealed image, by default C(/etc/immutable-infra/manifest.json),
    at the end of a bake. It records what the image is (name, version, git revision, bake key, parent image),
    how it was made (roles) and what it contains (installed Debian packages with their versions, sha256 of the
    files the roles manage).
  - 'The manifest is a JSON object with the keys C(schema) (V(1)), C(name), C(version), C(revision),
    C(bake_key), C(parent_image), C(roles), C(packages) (package name to version), C(files) (absolute path to
    sha256) and C(built) (RFC 3339 UTC time).'
  - The file is written atomically (a temporary file in the same directory, then a rename) with mode V(0644)
    and, when the module runs as root, owner root. Missing parent directories are created with mode V(0755).
  - Idempotent. When O(built) is not given and the existing manifest is the same apart from its C(built) time,
    that time is kept and nothing changes.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Everything is computed (checksums, packages) and nothing is written.
  diff_mode:
    support: full
    details: The diff shows the manifest's JSON text before and after.
  platform:
    platforms: posix
options:
  path:
    description:
      - Absolute path of the manifest file.
    type: path
    default: /etc/immutable-infra/manifest.json
  state:
    description:
      - V(present) writes the manifest, V(absent) removes it.
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Image name, for example V(web).
      - Required when O(state=present).
    type: str
  version:
    description:
      - Image version, a Semantic Versioning 2.0.0 version such as V(1.2.0), V(1.2.0-rc.1) or V(1.2.0+build.5).
      - Required when O(state=present).
    type: str
  revision:
    description:
      - Git commit of the repository the image was baked from.
      - Required when O(state=present).
    type: str
  bake_key:
    description:
      - sha256 (64 lower-case hex digits) of everything that went into the image, the same value as the image
        label C(io.immutable-infra.bake-key).
      - Required when O(state=present).
    type: str
  parent_image:
    description:
      - ID of the parent image (V(sha256:...)), the same value as the image label C(io.immutable-infra.parent).
      - Required when O(state=present).
    type: str
  roles:
    description:
      - Names of the roles applied during the bake, in order.
    type: list
    elements: str
    default: []
  managed_files:
    description:
      - Absolute paths of files the bake manages; the sha256 of each one's content is recorded under C(files).
        Symbolic links are followed.
      - A path that does not exist, or is not a regular file, is an error that names it.
    type: list
    elements: path
    default: []
  packages:
    description:
      - Record the installed Debian packages and their versions (C(dpkg-query -W)); packages left only as
        configuration files are not recorded.
      - When V(true) and C(dpkg-query) is not installed, the module fails. When V(false), C(packages) is an empty
        object.
    type: bool
    default: true
  built:
    description:
      - Build time, an RFC 3339 UTC time such as V(2026-11-26T15:11:00Z).
      - When not given, the current time, unless the existing manifest is the same apart from its C(built)
        time, in which case that time is kept.
    type: str
  collection_version:
    version_added: 0.2.0
    description: Version of immutable.infra that baked the image; recorded as C(collection_version) when given.
    type: str
  source:
    version_added: 0.2.0
    description: Where the project the image is baked from lives (its git remote); recorded as C(source) when given.
    type: str
'''

EXAMPLES = r'''
- name: Seal the image
  immutable.infra.image_manifest:
    name: web
    version: 1.2.0
    revision: "{{ image_seal_revision }}"
    bake_key: "{{ image_seal_bake_key }}"
    parent_image: "{{ image_seal_parent_image }}"
    roles:
      - bake_guard
      - nginx
      - image_seal
    managed_files:
      - /etc/nginx/nginx.conf
      - /etc/nginx/sites-enabled/default

- name: Write a manifest without the package list, with a fixed build time
  immutable.infra.image_manifest:
    path: /tmp/manifest.json
    name: base
    version: 1.0.0-rc.1
    revision: 0123456789abcdef0123456789abcdef01234567
    bake_key: "{{ '0' * 64 }}"
    parent_image: sha256:4b825dc642cb6eb9a060e54bf8d69288fbee4904
    packages: false
    built: "2026-11-26T15:11:00Z"

- name: Remove the manifest
  immutable.infra.image_manifest:
    state: absent
'''

RETURN = r'''
path:
  description: Absolute path of the manifest file.
  returned: always
  type: str
  sample: /etc/immutable-infra/manifest.json
manifest:
  description:
    - The manifest written (or that would be written in check mode).
    - An empty dict when O(state=absent).
  returned: always
  type: dict
  sample:
    schema: 1
    name: web
    version: 1.2.0
    revision: 0123456789abcdef0123456789abcdef01234567
    bake_key: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    parent_image: sha256:6a4c1e1f0f1d0a4e4b0c8f1e9d2a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c
    roles: [bake_guard, nginx, image_seal]
    packages:
      nginx: 1.22.1-9
      openssl: 3.0.15-1~deb12u1
    files:
      /etc/nginx/nginx.conf: 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
    built: "2026-11-26T15:11:00Z"
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.image_manifest import (
    DEFAULT_PATH,
    ImageManifestError,
    ensure_manifest,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default=DEFAULT_PATH),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            name=dict(type='str'),
            version=dict(type='str'),
            revision=dict(type='str'),
            bake_key=dict(type='str', no_log=False),
            parent_image=dict(type='str'),
            roles=dict(type='list', elements='str', default=[]),
            managed_files=dict(type='list', elements='path', default=[]),
            packages=dict(type='bool', default=True),
            built=dict(type='str'),
            collection_version=dict(type='str'),
            source=dict(type='str'),
        ),
        required_if=[('state', 'present', ['name', 'version', 'revision', 'bake_key', 'parent_image'])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        result = ensure_manifest(
            path=params['path'],
            state=params['state'],
            name=params['name'],
            version=params['version'],
            revision=params['revision'],
            bake_key=params['bake_key'],
            parent_image=params['parent_image'],
            roles=params['roles'],
            managed_files=params['managed_files'],
            packages=params['packages'],
            built=params['built'],
            collection_version=params['collection_version'],
            source=params['source'],
            run_command=module.run_command,
            dpkg_query=module.get_bin_path('dpkg-query') if params['packages'] else None,
            check_mode=module.check_mode,
        )
    except ImageManifestError as exc:
        module.fail_json(msg=str(exc))
    else:
        diff = result.pop('diff')
        if module._diff:
            result['diff'] = diff
        module.exit_json(**result)


if __name__ == '__main__':
    main()

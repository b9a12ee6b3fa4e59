#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_bake
short_description: Decide, clean up and judge one image bake (bake key, cache hit, verified or failed)
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - The controller side of C(playbooks/bake.yml). Packer does the build; this module decides whether a build
    is needed and records its verdict in the engine.
  - C(state=planned) computes the bake key over the bake's inputs, then returns C(action=skip) when the same
    version is verified with the same key (cache hit), fails when the version is verified with a different key
    (a version is never reused for different content), and otherwise returns C(action=bake) after removing
    what an interrupted or untested earlier bake of the image left behind (build containers, an unverified
    version tag).
  - C(state=verified) tags a tested image C(<repository>/<name>:verified-<version>).
  - C(state=failed) takes the version tag off an image that failed its tests and tags it
    C(<repository>/<name>:failed-<version>), so it no longer looks usable.
extends_documentation_fragment:
  - immutable.infra.engine
  - ansible.builtin.action_common_attributes
options:
  name:
    description: Image name (C(base), C(web), C(lb)...).
    type: str
    required: true
  version:
    description: Semantic version of the image.
    type: str
    required: true
  state:
    description: What to do, see the description.
    type: str
    choices: [planned, verified, failed]
    default: planned
  root:
    description: Folder the I(inputs) paths are relative to (the collection root).
    type: path
  inputs:
    description:
      - Files and folders whose content goes into the image (templates, roles, playbooks, module code), relative
        to I(root).
      - With C(state=planned), I(inputs) or I(sources) is required.
    type: list
    elements: str
  sources:
    version_added: 0.2.0
    description:
      - Files and folders whose content goes into the image, wherever they are (the roles applied, the project's
        inputs), as returned by M(immutable.infra.image_definition). Each file is named by the source's label
        (and its path inside a folder), so the bake key does not depend on where they live.
    type: list
    elements: dict
    suboptions:
      label:
        description: Name of the source in the bake key.
        type: str
        required: true
      path:
        description: Absolute path of the file or folder.
        type: path
        required: true
  container:
    version_added: 0.2.0
    description:
      - With C(state=planned), the image's container settings (normalized, as returned by
        M(immutable.infra.image_definition)); the module returns the Dockerfile-style C(changes) of the image's
        commit, with I(labels), the bake key and the parent's ID as labels.
    type: dict
  labels:
    version_added: 0.2.0
    description: With C(state=planned) and I(container), provenance labels of the image, in order.
    type: dict
    default: {}
  parent:
    description:
      - With C(state=planned), the image the bake starts from (name:tag or ID). It is resolved to its image ID,
        which goes into the bake key, and returned with its bake key for the guard of a layered bake.
    type: str
  values:
    description:
      - Values that go into the image besides files (collection version, variables).
      - The planned version is always added as C(version), and the parent's image ID as C(parent_image).
    type: dict
    default: {}
  bake_key:
    description:
      - The bake key of the candidate, for C(state=verified) and C(state=failed); guards against another bake
        having replaced the candidate meanwhile. Ignored with C(state=planned), which computes it.
    type: str
  force:
    description: With C(state=planned), bake even on a cache hit.
    type: bool
    default: false
  refresh:
    description:
      - With C(state=planned), for a parent layer baked automatically (C(base)) - reuse the newest verified
        version when its bake key is still current, else plan the next patch version above the newest one.
      - I(version) is then the version to use when the image has no verified version at all.
      - The key is computed with the planned version put into I(values.version).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: With C(state=planned), what would be cleaned up is returned and nothing is removed.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API.
'''

EXAMPLES = r'''
- name: Plan the bake of web 1.2.0
  immutable.infra.image_bake:
    name: web
    version: 1.2.0
    root: "{{ playbook_dir }}/.."
    inputs: [packer/variables.pkr.hcl, packer/web.pkr.hcl, roles/webapp, roles/image_seal]
    values:
      version: 1.2.0
      parent: sha256:4c1f...
  register: plan

- name: Mark the tested image verified
  immutable.infra.image_bake:
    name: web
    version: 1.2.0
    state: verified
    bake_key: "{{ plan.bake_key }}"
'''

RETURN = r'''
bake_key:
  description: sha256 over the bake's inputs and values (computed with C(state=planned), else as given).
  returned: always
  type: str
  sample: 9b0c4d1e2f...
version:
  description: The version planned (differs from I(version) only with I(refresh=true)).
  returned: when state is planned
  type: str
  sample: 1.0.1
action:
  description: C(skip) (cache hit) or C(bake), with C(state=planned).
  returned: when state is planned
  type: str
  sample: bake
reason:
  description: Why the action was chosen.
  returned: when state is planned
  type: str
  sample: "cache hit: immutable/web:1.2.0 is verified with the same bake key"
parent_image:
  description: Image ID of I(parent).
  returned: when state is planned and parent is given
  type: str
  sample: sha256:4c1f...
parent_bake_key:
  description: Bake key of I(parent), empty for an image not baked by this collection (the bootstrap OS image).
  returned: when state is planned and parent is given
  type: str
  sample: 0d4e...
image:
  description: The image record concerned (existing image when planned, the candidate otherwise), or null.
  returned: always
  type: dict
  sample: {id: "sha256:4c1f...", name: web, version: 1.2.0, verified: true, tags: ["1.2.0", "verified-1.2.0"]}
changes:
  version_added: 0.2.0
  description:
    - Dockerfile-style instructions of the image's commit (LABEL, ENTRYPOINT, CMD, EXPOSE, ENV, USER, WORKDIR,
      STOPSIGNAL). An image that sets no entrypoint or command keeps its parent's.
  returned: when state is planned and container is given
  type: list
  elements: str
  sample: ['LABEL org.opencontainers.image.title="web" ...', 'ENTRYPOINT ["/usr/sbin/nginx"]']
leftovers:
  description: What an earlier bake left and this run removed (or would remove, in check mode).
  returned: when state is planned
  type: list
  elements: dict
  sample: [{kind: container, ref: 3f2a..., why: "build container of an interrupted bake (running)"}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.bake import (
    BakeError, clean_leftovers, compute_bake_key, mark_failed, mark_verified, plan_bake, plan_refresh,
)
from ansible_collections.immutable.infra.plugins.module_utils.image_definition import docker_changes
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_image_store


def _public(record):
    if not record:
        return None
    result = dict(record)
    result.pop('labels', None)
    if result.get('created'):
        result['created'] = result['created'].isoformat()
    return result


def run(module):
    p = module.params
    store = get_image_store(p['provider'], p)
    if p['state'] == 'planned':
        values = dict(p['values'])
        parent = None
        if p['parent']:
            parent = store.get(p['parent'])
            if parent is None:
                raise BakeError('the parent image %s is not on the engine: run make setup (it builds the bootstrap '
                                'OS image) or bake the parent first' % p['parent'])
            values['parent_image'] = parent['id']

        def key_for(version):
            return compute_bake_key(p['root'], p['inputs'], dict(values, version=version), p['sources'])

        if p['refresh']:
            plan = plan_refresh(store, p['name'], p['version'], key_for)
        else:
            plan = plan_bake(store, p['name'], p['version'], key_for, p['force'])
        if plan['action'] == 'bake' and plan['leftovers'] and not module.check_mode:
            clean_leftovers(store, p['name'], p['version'], plan['leftovers'])
        result = dict(changed=bool(plan['leftovers']), bake_key=plan['bake_key'], version=plan['version'],
                      action=plan['action'],
                      reason=plan['reason'], image=_public(plan['image']), leftovers=plan['leftovers'])
        if parent is not None:
            result.update(parent_image=parent['id'], parent_bake_key=parent['bake_key'] or '')
        if p['container'] is not None:
            labels = [('org.opencontainers.image.version', plan['version'])] + list(p['labels'].items()) + [
                ('io.immutable-infra.version', plan['version']),
                ('io.immutable-infra.bake-key', plan['bake_key']),
                ('io.immutable-infra.parent', parent['id'] if parent else ''),
                # docker commit keeps the build container's labels: blank the build marker, so that containers
                # of the image are never taken for leftovers of an interrupted bake.
                ('io.immutable-infra.bake', ''),
            ]
            result['changes'] = docker_changes(p['name'], p['container'], labels,
                                               store.config(parent['id']) if parent else {})
        return result
    judge = mark_verified if p['state'] == 'verified' else mark_failed
    changed, record = judge(store, p['name'], p['version'], p['bake_key'], module.check_mode)
    return dict(changed=changed, bake_key=record['bake_key'], image=_public(record))


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(
            name=dict(type='str', required=True),
            version=dict(type='str', required=True),
            state=dict(type='str', default='planned', choices=['planned', 'verified', 'failed']),
            root=dict(type='path'),
            inputs=dict(type='list', elements='str'),
            sources=dict(type='list', elements='dict', options=dict(
                label=dict(type='str', required=True),
                path=dict(type='path', required=True),
            )),
            container=dict(type='dict'),
            labels=dict(type='dict', default={}),
            parent=dict(type='str'),
            values=dict(type='dict', default={}),
            bake_key=dict(type='str', no_log=False),
            force=dict(type='bool', default=False),
            refresh=dict(type='bool', default=False),
        ),
        required_if=[('state', 'planned', ('inputs', 'sources'), True)],
        required_by={'inputs': 'root'},
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except (BakeError, ImageStoreError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()

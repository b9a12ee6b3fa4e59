#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_channel
short_description: Point a channel (dev, staging, prod...) at an image version, or roll it back
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - A channel of an image is the tag C(<repository>/<name>:<channel>) on the image it points at, so
    C(docker run immutable/web:prod) runs what prod runs, and the C(immutable.infra.image) lookup pins it by ID.
  - Every assignment is kept as a history entry (sequence number, action, version, image ID, UTC time, previous
    version and image ID) in the engine itself, as a tiny record image tagged
    C(<repository>/<name>.channel-history:<channel>-<seq>). The history is append-only.
  - C(state=present) points the channel at I(version). Only an image that passed its tests (tagged
    C(verified-<version>)) is accepted unless I(allow_unverified=true); an image that failed its tests never is.
    Nothing changes when the channel already points there.
  - C(state=rollback) moves the channel back to the assignment before the current one, and records that as a new
    entry; rolling back again goes one more step back. When I(version) is given it must be the version the
    rollback goes to, and a channel already at I(version) is left alone (so the task is idempotent).
  - Unknown images or versions, invalid channel names and invalid versions fail before anything changes.
extends_documentation_fragment:
  - immutable.infra.engine
  - ansible.builtin.action_common_attributes
options:
  name:
    description: Image name (C(web)).
    type: str
    required: true
  channel:
    description:
      - Channel name, 1 to 63 lowercase letters, digits and hyphens starting with a letter.
      - C(latest) and names starting with C(verified-) or C(failed-) are reserved.
    type: str
    required: true
  version:
    description:
      - Semantic version to point the channel at. Required with C(state=present).
      - With C(state=rollback), the version the rollback must arrive at (optional guard).
    type: str
  state:
    description: C(present) to point the channel at I(version), C(rollback) to step back one assignment.
    type: str
    choices: [present, rollback]
    default: present
  allow_unverified:
    description: Accept an image that has not passed its image tests (never one that failed them).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Returns the entry that would be recorded and the before and after versions, changes nothing.
  diff_mode:
    support: full
    details: Before and after version and image ID of the channel.
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API.
'''

EXAMPLES = r'''
- name: Promote web 1.2.0 to prod
  immutable.infra.image_channel:
    name: web
    channel: prod
    version: 1.2.0

- name: Roll prod of web back to what it ran before
  immutable.infra.image_channel:
    name: web
    channel: prod
    state: rollback

- name: Try an untested build on dev
  immutable.infra.image_channel:
    name: web
    channel: dev
    version: 1.3.0-rc.1
    allow_unverified: true
'''

RETURN = r'''
name:
  description: Image name.
  returned: always
  type: str
  sample: web
channel:
  description: Channel name.
  returned: always
  type: str
  sample: prod
version:
  description: Version the channel points at after the task.
  returned: always
  type: str
  sample: 1.2.0
image_id:
  description: Image ID the channel points at after the task.
  returned: always
  type: str
  sample: sha256:4c1f0e7d9a6b...
previous_version:
  description: Version the channel pointed at before the task, null when it pointed nowhere.
  returned: always
  type: str
  sample: 1.1.0
operation:
  description: C(none), C(promote), C(rollback), or C(retag) (the history was right, only the tag was moved).
  returned: always
  type: str
  sample: promote
entry:
  description: The history entry recorded (would be recorded in check mode), null when nothing changed.
  returned: always
  type: dict
  sample: {seq: 3, action: promote, version: 1.2.0, image_id: "sha256:4c1f...", time: "2026-11-26T16:00:00Z",
           previous_version: 1.1.0, previous_image_id: "sha256:9e2a..."}
history:
  description: The channel's history after the task, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - {seq: 3, action: promote, version: 1.2.0, image_id: "sha256:4c1f...", time: "2026-11-26T16:00:00Z",
       previous_version: 1.1.0, previous_image_id: "sha256:9e2a..."}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.channels import public_entry, set_channel
from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_image_store


def run(module):
    p = module.params
    store = get_image_store(p['provider'], p)
    plan = set_channel(store, p['name'], p['channel'], p['state'], p['version'], p['allow_unverified'],
                       module.check_mode)
    result = dict(
        changed=plan['changed'], name=p['name'], channel=p['channel'], operation=plan['action'],
        version=plan['after']['version'], image_id=plan['after']['image_id'],
        previous_version=plan['before']['version'],
        entry=public_entry(plan['entry']) if plan['entry'] else None,
        history=[public_entry(e) for e in reversed(plan['entries'])],
    )
    if module._diff:
        result['diff'] = dict(before=plan['before'], after=plan['after'],
                              before_header='%s:%s' % (p['name'], p['channel']),
                              after_header='%s:%s' % (p['name'], p['channel']))
    return result


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(
            name=dict(type='str', required=True),
            channel=dict(type='str', required=True),
            version=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'rollback']),
            allow_unverified=dict(type='bool', default=False),
        ),
        required_if=[('state', 'present', ('version',))],
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except (CatalogError, ImageStoreError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()

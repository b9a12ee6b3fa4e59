#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_prune
short_description: Remove old image versions, never one that is in use, on a channel, needed by a fleet or protected
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Keeps the newest I(keep) verified versions of each image name and removes the other baked images, except an
    image that is used by any container (running or stopped), is the target of a channel or among a channel's
    last I(keep_history) history entries, is needed by a fleet, is the parent of a kept image, or is listed in
    I(protect).
  - An image a fleet needs, read from the fleet records in the engine (revision histories
    C(<repository>/fleet-history:<fleet>) and locks C(<fleet>-lock)) of every fleet of I(repository), is the image
    of any C(succeeded) revision the history keeps (the current revision and every revision C(rollback.yml) may
    roll back to) and, while a fleet's lock is held or a revision is C(in_progress), the image being rolled out
    and the one that served before it.
  - Unverified and failed bakes are kept for I(grace_period) after they were baked, then removed.
  - The decision is taken over the whole catalog (so the C(base) a kept C(web) was baked on stays) and narrowed
    to I(name) when given.
  - An image is removed by taking off all its tags and deleting it, never by force; the engine would refuse to
    delete an image a container uses. When a container starts using an image, or a fleet starts needing it (a
    rollout took the lock), between the decision and the removal, nothing is removed.
  - Channel history records (C(<repository>/<name>.channel-history)) are never removed; they are empty images
    and keep the whole history of every channel.
  - Returns, also in check mode, exactly what is (would be) removed and, for each kept image, why.
extends_documentation_fragment:
  - immutable.infra.engine
  - ansible.builtin.action_common_attributes
options:
  name:
    description: Only prune images of this name. All names when not set.
    type: str
  keep:
    description: Newest verified versions kept per name (at least 1).
    type: int
    default: 3
  keep_history:
    description: Previous targets kept per channel, counted in history entries (0 keeps only the current targets).
    type: int
    default: 5
  protect:
    description:
      - Images never removed, by image ID (or a prefix of at least 12 hex digits), C(name:version) or tag
        (C(immutable/web:1.2.0)). An entry that matches no image is an error, so a typo protects nothing unnoticed.
    type: list
    elements: str
    default: []
  grace_period:
    description:
      - How long unverified and failed bakes are kept, for example C(1d), C(12h), C(30m), C(1d12h); C(0) for not at all.
    type: str
    default: 1d
attributes:
  check_mode:
    support: full
    details: Returns exactly what a real run would remove and why every other image stays.
  diff_mode:
    support: full
    details: The images of the catalog before and after (C(name:version id)).
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API.
'''

EXAMPLES = r'''
- name: What would a prune of web remove?
  immutable.infra.image_prune:
    name: web
    keep: 3
  check_mode: true
  register: prune_plan

- name: Prune every name, keep the release we demo
  immutable.infra.image_prune:
    keep: 2
    protect: [web:1.0.0]
    grace_period: 12h
'''

RETURN = r'''
removed:
  description: Images removed (that would be removed, in check mode), children before parents.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: web, version: 1.0.0, id: "sha256:77aa...", created: "2026-11-20T10:00:00Z", tags: ["1.0.0", "verified-1.0.0"],
       reason: not among the newest 3 verified versions of web}
kept:
  description: Images kept, each with every reason it is kept.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: web, version: 1.1.0, id: "sha256:9e2a...", created: "2026-11-21T10:00:00Z", tags: ["1.1.0", "verified-1.1.0"],
       reasons: [used by container web-old, rollback target of fleet web revision 4]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.catalog_store import apply_prune, plan_prune
from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import connect


def _lines(records):
    return ''.join('%s:%s %s\n' % (r['name'], r['version'], r['id']) for r in sorted(records, key=lambda r: r['name']))


def run(module):
    p = module.params
    connection = connect(p['provider'], p)
    store = connection.image_store()
    # The fleet records (revision histories, locks) say which images fleets need.
    fleets = connection.provider()
    plan = plan_prune(store, p['name'], p['keep'], p['keep_history'], p['protect'], p['grace_period'],
                      provider=fleets)
    if plan['remove'] and not module.check_mode:
        apply_prune(store, plan, provider=fleets)
    result = dict(changed=bool(plan['remove']), removed=plan['remove'], kept=plan['keep'])
    if module._diff:
        result['diff'] = dict(before=_lines(plan['keep'] + plan['remove']), after=_lines(plan['keep']))
    return result


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(
            name=dict(type='str'),
            keep=dict(type='int', default=3),
            keep_history=dict(type='int', default=5),
            protect=dict(type='list', elements='str', default=[]),
            grace_period=dict(type='str', default='1d'),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run(module))
    except (CatalogError, ImageStoreError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()

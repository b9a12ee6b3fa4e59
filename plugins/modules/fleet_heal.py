#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: fleet_heal
short_description: Replace failed instances of a fleet with new ones of its current image, never repair in place
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Reconciles a fleet with its current revision, the image of the newest successful entry of its revision
    history (kept in the engine by M(immutable.infra.fleet_rollout)).
  - Replaced - instances of that image that are not running (C(stopped), C(failed) or C(pending) - exited, killed,
    never started, paused); running instances outside normal service (drained, staged at weight 0, left by an
    interrupted step, or not in the load balancer and failing their health check); instances in service that
    have failed their health check for O(unhealthy_after) seconds. Missing instances (fewer healthy ones than the
    spec's C(instances)) are created.
    Load-balancer servers without an instance are deleted.
  - Put back - running instances of that image that the load balancer lost (it was restarted) and that answer
    their health check go back into it, up to the spec's C(instances); they are not replaced.
  - The load balancer is replaced like an instance when it is missing or not running (killed, or every container
    of the fleet stopped) - new instances are created and health-gated first, then a new load balancer (the
    spec's C(lb_version) or C(lb_channel)) starts with every healthy member already in its backend, so it never
    answers a request it has no server for.
  - A replacement is a NEW instance of the revision's image ID, health-gated by the controller on its published
    port, added to the load balancer through its runtime API and watched for the spec's C(monitor) seconds; only
    then is the bad instance drained and removed. A failed instance is never restarted, exec'd into or changed.
    When a new instance fails its gate it is removed again and the old ones are left as they were.
  - How long an instance has been failing comes from outside the controller - the load balancer's record (HAProxy
    checks every server and keeps the seconds since it went DOWN) and, for an instance HAProxy has not declared
    down yet, checks within this run, one per C(health.interval), for at most O(unhealthy_after) seconds. A
    healthy fleet costs one check per instance. See C(plugins/module_utils/heal.py).
  - Stopped instances of other images (the previous revision a blue/green rollout keeps for an instant rollback)
    are left alone; running instances of another image are counted and reported (M(immutable.infra.fleet_drift)
    with O(immutable.infra.fleet_drift#module:remediate=replace) replaces them).
  - Takes the fleet's lock, the one rollouts take; a concurrent rollout, rollback or heal fails fast naming its
    holder, and changes nothing. A healthy fleet is C(changed=false) and takes no lock.
extends_documentation_fragment:
  - immutable.infra.engine
  - immutable.infra.fleet
  - ansible.builtin.action_common_attributes
options:
  spec:
    description:
      - The fleet spec, as declared in C(immutable_fleets.<fleet>) in the inventory (C(instances), C(service_port),
        C(health), C(drain_timeout), C(monitor)... are used; the image comes from the revision history, not from
        the spec's C(version)).
    type: dict
    required: true
  unhealthy_after:
    description:
      - Seconds an instance in service must have failed its health check before it is replaced. C(0) replaces an
        instance at its first failed check.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    details:
      - Lists what would be replaced, created and deleted, and why; changes nothing and takes no lock.
      - Judges health as a real run does, so it also watches an instance that just started failing (read-only).
  diff_mode:
    support: full
    details: The instances before and after.
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API and to the load balancer's runtime API.
'''

EXAMPLES = r'''
- name: Heal the web fleet
  immutable.infra.fleet_heal:
    fleet: web
    spec: "{{ immutable_fleets.web }}"

- name: What would be replaced (an instance failing for 10 s is replaced)
  immutable.infra.fleet_heal:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    unhealthy_after: 10
  check_mode: true
  register: web_heal_plan
'''

RETURN = r'''
outcome:
  description: C(unchanged) (healthy fleet), C(planned) (check mode), C(healed) or C(failed).
  returned: always
  type: str
  sample: healed
fleet:
  description: Name of the fleet.
  returned: always
  type: str
  sample: web
revision:
  description: The fleet revision whose image replacements are created from (number, version, image_id).
  returned: always
  type: dict
  sample: {number: 4, version: 1.1.0, image_id: "sha256:9f2c..."}
plan:
  description:
    - What heal does - C(replace) (name, reason C(exited), C(not_running), C(out_of_service), C(unhealthy) or
      C(drifted), detail, state, version, revision), C(lb) (null, or why a new load balancer is needed), C(readmit)
      (running instances put back into the load balancer), C(create) (new instances), C(members) (healthy instances
      kept), C(suspects) (failing for less than O(unhealthy_after) - name, failing_for, answer), C(kept) (stopped
      instances of other images), C(other_image), C(stray_servers), C(surplus) and C(changed).
  returned: always
  type: dict
  sample: {replace: [{name: web-r4-1a2b3c, reason: exited, detail: state stopped (exited)}], create: 1, members: [web-r4-9f8e7d, web-r4-77aa01],
           suspects: [], kept: [], other_image: [], stray_servers: [], surplus: 0, changed: true}
replaced:
  description: The instances replaced, each with its C(replacement) (the new instance, null when none was needed).
  returned: always
  type: list
  elements: dict
  sample: [{name: web-r4-1a2b3c, reason: exited, detail: state stopped (exited), replacement: web-r4-5d6e7f}]
readmitted:
  version_added: 0.2.0
  description: Running instances put back into the load balancer (it had lost them), kept as they are.
  returned: always
  type: list
  elements: str
  sample: [web-r4-9f8e7d]
created:
  description: Names of the new instances.
  returned: always
  type: list
  elements: str
  sample: [web-r4-5d6e7f]
removed:
  description: Names of the instances drained and removed.
  returned: always
  type: list
  elements: str
  sample: [web-r4-1a2b3c]
recovered:
  description: Instances that failed a check during this run and then answered healthy again (kept).
  returned: always
  type: list
  elements: str
  sample: []
events:
  description: What was done, with seconds since the start.
  returned: always
  type: list
  elements: dict
  sample: [{t: 0.4, event: "created instance web-r4-5d6e7f (1.1.0, revision 4)"}]
instances:
  description: Instances of the fleet at the end (name, revision, version, image_id, state, endpoint, address).
  returned: when something changed
  type: list
  elements: dict
  sample: [{name: web-r4-5d6e7f, revision: 4, version: 1.1.0, state: running, endpoint: "127.0.0.1:49160"}]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.fleet_module import (
    fleet_argument_spec, fleet_connection, fleet_engine, run_fleet_module,
)
from ansible_collections.immutable.infra.plugins.module_utils.heal import Healer
from ansible_collections.immutable.infra.plugins.module_utils.rollout import resolve_image


def run(module):
    p = module.params
    engine = fleet_engine(p)
    spec = engine.spec

    def lb_image():
        # Resolved only when a missing or dead load balancer is replaced.
        store = fleet_connection(p).image_store()
        return resolve_image(store, spec['lb_image'], spec['lb_version'], spec['lb_channel'], spec['require_verified'])

    healer = Healer(engine, p['unhealthy_after'], lb_image=lb_image)
    return healer.run(module.check_mode, p['break_lock'])


def main():
    module = AnsibleModule(
        argument_spec=fleet_argument_spec(
            unhealthy_after=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    run_fleet_module(module, run)


if __name__ == '__main__':
    main()

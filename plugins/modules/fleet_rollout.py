#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: fleet_rollout
short_description: Roll a fleet of identical instances to a new image version behind its load balancer
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Moves a fleet from the image it runs to the image of a version (or channel) without touching a running
    instance - new instances are created from the new image, health-gated by the controller on their published
    port, added to the fleet's HAProxy load balancer through its runtime API, and the old ones drained and
    retired. The rollout path never execs into, copies into or reconfigures an instance.
  - Strategies - C(rolling) (O(spec) C(rolling.max_surge) and C(rolling.max_unavailable), counts or
    percentages), C(blue_green) (the full new set, one-step switch, the previous revision kept stopped for an
    instant rollback) and C(canary) (a share of the traffic to C(canary_instances), HAProxy stats of the canary
    compared with the baseline over C(analysis_window), then rolling).
  - After each step its new instances are watched for C(monitor) seconds (they must stay up in the load balancer
    and running); the next step is prepared and health-gated meanwhile, and the rollout ends when the last
    window has closed.
  - Any failed step (health gate, load balancer, monitor window, canary analysis) rolls the fleet back to the
    revision that served before; the module then fails with C(outcome=rolled_back).
  - A per-fleet lock in the engine refuses a concurrent change and names its holder. A lock whose holder
    process is gone on this host is taken over; I(break_lock=true) breaks any lock.
  - Re-running after an interrupted run (controller killed) converges - an unfinished rollout to the same image
    is finished, leftovers are cleaned up. Rolling out what already runs is C(changed=false).
  - The first deploy of a fleet is a rollout to an empty fleet - the load balancer and the instances are created.
  - The revision history (number, version, image ID, strategy, start, end, outcome) is kept in the engine.
extends_documentation_fragment:
  - immutable.infra.engine
  - immutable.infra.fleet
  - ansible.builtin.action_common_attributes
options:
  spec:
    description:
      - The fleet spec, as declared in C(immutable_fleets.<fleet>) in the inventory. See
        C(inventory/group_vars/all/fleets.yml) and C(docs/architecture.md) for every field and its default.
      - C(instances) is the instance count, from 1 to 100.
      - C(listen) is where the load balancer is published - C(HOST:PORT) with an IPv4 address, an IPv6 address in
        brackets (C([::1]:8080)) or C(localhost) (C(127.0.0.1)) as HOST. A host that is not a loopback address
        (C(0.0.0.0) and C([::]), every interface, included) needs C(listen_public=true); the plan then says so in
        C(plan.notes). C(listen_public) was added in version 0.2.0.
      - C(image), C(lb_image), C(channel) and C(lb_channel) follow the image catalog's rules for image and channel
        names; C(health.path) is an absolute path with an optional query.
      - The whole spec is validated before the engine is reached - a bad value fails and changes nothing.
      - Required with O(state=present).
    type: dict
  rollback:
    description:
      - Roll back to the previous successful revision of the history (the newest one whose image differs from the
        one serving), instead of the spec's version. With a C(version) override, roll back to that version.
      - Uses C(blue_green) when the previous revision's instances were kept stopped (instant), otherwise the
        fleet's strategy (C(rolling) for a canary fleet), unless the strategy is overridden (C(rollout_strategy)).
    type: bool
    default: false
  state:
    description: C(present) rolls the fleet to the spec; C(absent) removes the fleet (instances, load balancer,
      network, history).
    type: str
    choices: [present, absent]
    default: present
attributes:
  check_mode:
    support: full
    details: Returns the plan (instances to create, restart, retire and remove, the steps) and changes nothing.
  diff_mode:
    support: full
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API and to the load balancer's runtime API.
'''

EXAMPLES = r'''
- name: Roll the web fleet to 1.1.0
  immutable.infra.fleet_rollout:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    overrides:
      version: 1.1.0

- name: Blue/green rollout of what the prod channel points to
  immutable.infra.fleet_rollout:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    overrides:
      channel: prod
      rollout_strategy: blue_green

- name: Back to the previous successful revision
  immutable.infra.fleet_rollout:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    rollback: true
'''

RETURN = r'''
outcome:
  description: C(unchanged), C(planned) (check mode), C(succeeded), C(rolled_back), C(failed) or C(removed).
  returned: always
  type: str
  sample: succeeded
fleet:
  description: Name of the fleet.
  returned: always
  type: str
  sample: web
strategy:
  description: Strategy used (a canary with nothing to compare with, as on a first deploy, runs as rolling).
  returned: with state=present
  type: str
  sample: rolling
revision:
  description: The revision that serves at the end (the previous one after a rollback).
  returned: with state=present
  type: dict
  sample: {number: 4, version: 1.1.0, image_id: "sha256:9f2c..."}
plan:
  description:
    - What the rollout does - C(create) (count), C(reuse) (stopped instances restarted), C(retire), C(remove)
      (leftovers), C(keep_stopped), C(lb) (C(keep), C(create) or C(recreate)), C(history) (C(new), C(resume) or
      null), C(current) (serving revisions), C(target) and C(steps).
    - "Where the load balancer is published - C(listen) and C(listen_public); for a public address C(notes) has the
      line C(load balancer published on PUBLIC address 0.0.0.0:8080 (listen_public: true))."
  returned: always
  type: dict
  sample: {strategy: rolling, revision: 4, create: 3, retire: [web-r3-1a2b3c], steps: [{retire_first: [], create: 1, retire: [web-r3-1a2b3c]}]}
planned_steps:
  version_added: 0.2.0
  description:
    - The steps of the plan (C(plan.steps)), one dict per step - rolling C({retire_first, create, retire}) (names of
      the old instances retired before and after the step's C(create) new ones), blue/green
      C({create, switch, retire, keep_stopped}), canary C({create, canary_weight, canary_share, analysis_window})
      followed by rolling steps.
    - Check mode returns what a real run from the same state executes; a real run returns the plan it started from.
  returned: with state=present
  type: list
  elements: dict
  sample: [{retire_first: [], create: 2, retire: [web-r3-1a2b3c, web-r3-4d5e6f]}]
steps:
  version_added: 0.2.0
  description:
    - The steps the real run executed, in order, each as in C(planned_steps) plus C(instances), the names of the
      instances it brought in (created or restarted kept ones). Without a re-plan they equal C(planned_steps).
    - A failed rollout lists the steps that completed before the failing one.
  returned: when a real run changed the fleet
  type: list
  elements: dict
  sample: [{retire_first: [], create: 2, retire: [web-r3-1a2b3c, web-r3-4d5e6f], instances: [web-r4-9f8e7d, web-r4-77aa01]}]
replanned:
  version_added: 0.2.0
  description:
    - The times the real run planned its remaining steps again from a fresh look at the fleet, because before a step
      the fleet was not what that step expects (an instance to retire or one of the target no longer serves, or
      instances the plan does not know serve). Empty when the run executed its plan as planned.
    - Each is C(step) (the index in C(steps) where the new steps start), C(reason) and C(steps) (the new remaining
      steps). A fault inside a monitor window fails the step (rolled back) instead.
  returned: when a real run changed the fleet
  type: list
  elements: dict
  sample: [{step: 2, reason: "instance(s) to retire no longer serve (web-r3-1a2b3c is stopped (exited))", steps: []}]
events:
  description: What was done, with seconds since the start.
  returned: always
  type: list
  elements: dict
  sample: [{t: 0.4, event: "created instance web-r4-9f8e7d (1.1.0)"}]
instances:
  description: Instances of the fleet at the end (name, revision, version, image_id, state, endpoint, address).
  returned: when something changed
  type: list
  elements: dict
  sample: [{name: web-r4-9f8e7d, revision: 4, version: 1.1.0, state: running, endpoint: "127.0.0.1:49160"}]
analysis:
  description: The canary analysis (passed, reasons, canary and baseline requests, errors, ratios, weight, share).
  returned: when a canary was analysed
  type: dict
  sample: {passed: false, reasons: ["5xx ratio 1.000 (40 of 40 requests) is above ..."]}
history_entry:
  description: The history entry written for this rollout.
  returned: when a rollout succeeded
  type: dict
  sample: {number: 4, version: 1.1.0, strategy: rolling, outcome: succeeded}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError, overridden_strategy, resolve_spec
from ansible_collections.immutable.infra.plugins.module_utils.fleet_module import (
    fleet_argument_spec, fleet_connection, note_listen, run_fleet_module,
)
from ansible_collections.immutable.infra.plugins.module_utils.rollout import (
    FleetEngine, resolve_image,
)


def run(module):
    p = module.params
    if p['state'] == 'absent':
        provider = fleet_connection(p).provider()
        return FleetEngine(provider, p['fleet']).destroy(module.check_mode, p['break_lock'])
    # The spec is validated before the engine is even reached: a bad one changes nothing.
    overrides = dict(p['overrides'] or {})
    spec = resolve_spec(p['fleet'], p['spec'], overrides)
    # The strategy is checked against the provider's capabilities first (a rollback's is the engine's to check).
    connection = fleet_connection(p, None if p['rollback'] else spec)
    provider = connection.provider()
    store = connection.image_store()
    engine = FleetEngine(provider, p['fleet'], spec)
    lb_image = resolve_image(store, spec['lb_image'], spec['lb_version'], spec['lb_channel'], spec['require_verified'])
    strategy = None
    rollback_of = None
    if p['rollback']:
        if overrides.get('version') or overrides.get('channel'):
            target = resolve_image(store, spec['image'], spec['version'], spec['channel'], spec['require_verified'])
        else:
            target = engine.rollback_target(store)
        strategy = spec['strategy'] if overridden_strategy(overrides) else engine.rollback_strategy(target)
        rollback_of = True
    else:
        target = resolve_image(store, spec['image'], spec['version'], spec['channel'], spec['require_verified'])
    try:
        result = engine.rollout(target, lb_image, module.check_mode, p['break_lock'], strategy, rollback_of)
    except FleetError as exc:
        note_listen(spec, exc.result)
        raise
    return note_listen(spec, result)


def main():
    module = AnsibleModule(
        argument_spec=fleet_argument_spec(
            spec_required=False,
            rollback=dict(type='bool', default=False),
            state=dict(type='str', default='present', choices=['present', 'absent']),
        ),
        supports_check_mode=True,
    )
    run_fleet_module(module, run)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: fleet_info
short_description: Instances, load balancer, revision history and lock of fleets
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Reports, for one fleet or every fleet on the engine, its instances (revision, version, image ID, state,
    health, load-balancer state), its load balancer, the revisions that serve, the revision history kept in the
    engine (number, version, image ID, strategy, start, end, outcome) and who holds its lock.
  - Health is asked by the controller on each instance's published port with the fleet's health check when
    I(specs) has the fleet, otherwise taken from the load balancer's own check.
extends_documentation_fragment:
  - immutable.infra.engine
  - ansible.builtin.action_common_attributes
options:
  fleet:
    description: Name of the fleet; all fleets on the engine when not given.
    type: str
  specs:
    description:
      - Fleet specs by name (C(immutable_fleets) of the inventory), for the health check path and status.
    type: dict
    default: {}
  health_check:
    description: Ask every running instance for its health (one GET each); false reads only the load balancer.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Reads only.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API and to the load balancer's runtime API.
'''

EXAMPLES = r'''
- name: Read the web fleet
  immutable.infra.fleet_info:
    fleet: web
    specs: "{{ immutable_fleets }}"
  register: web_fleet

- name: Show the revision that serves
  ansible.builtin.debug:
    msg: "{{ web_fleet.fleets[0].serving }}"
'''

RETURN = r'''
fleets:
  description: One entry per fleet (an empty list when the fleet has nothing on the engine).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Fleet name.
      type: str
      sample: web
    lb:
      description: The load balancer (name, state, version, image_id, listen, api, stats) or null.
      type: dict
      sample: {name: web-lb, state: running, version: 1.0.0, listen: "127.0.0.1:8080", api: "127.0.0.1:49153"}
    instances:
      description:
        - Every instance - name, id, revision, version, image_id, state (C(pending), C(running), C(stopped) or
          C(failed), whatever the provider), engine_state (the provider's own word), endpoint, address, created,
          health (C(healthy), C(unhealthy (503)), C(stopped)...), lb (state C(ready)/C(drain)/C(maint), up, weight,
          sessions, check; null when not in the load balancer), serving (in normal service), current (runs the
          image of the last successful revision).
      type: list
      elements: dict
      sample: [{name: web-r4-9f8e7d, revision: 4, version: 1.1.0, state: running, health: healthy, serving: true,
                lb: {state: ready, up: true, weight: 100, sessions: 0, check: L7OK}}]
    serving:
      description: The revisions in normal service (revision, version, image_id, instance names).
      type: list
      elements: dict
      sample: [{revision: 4, version: 1.1.0, image_id: "sha256:9f2c...", instances: [web-r4-9f8e7d]}]
    stray_servers:
      description: Load-balancer servers without a running instance.
      type: list
      elements: str
      sample: []
    history:
      description: Revision history, newest first - number, image, version, image_id, strategy, started, ended,
        outcome (C(in_progress), C(succeeded), C(rolled_back), C(failed), C(interrupted)), reason, previous.
      type: list
      elements: dict
      sample: [{number: 4, version: 1.1.0, strategy: rolling, started: "2026-11-26T15:11:00Z", outcome: succeeded}]
    lock:
      description: Holder of the fleet's lock (host, pid, started, operation) or null.
      type: dict
      sample: null
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError, resolve_spec
from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_provider
from ansible_collections.immutable.infra.plugins.module_utils.rollout import FleetEngine


def run(module):
    p = module.params
    provider = get_provider(p['provider'], p)
    names = [p['fleet']] if p['fleet'] else provider.fleets()
    fleets = []
    for name in names:
        spec = None
        if name in p['specs']:
            try:
                spec = resolve_spec(name, p['specs'][name])
            except FleetError as exc:
                module.warn('fleet %s: spec ignored, health taken from the load balancer: %s' % (name, exc))
        info = FleetEngine(provider, name, spec).describe(health_check=p['health_check'])
        if info['lb'] or info['instances'] or info['history']:
            fleets.append(info)
    return fleets


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(
            fleet=dict(type='str'),
            specs=dict(type='dict', default={}),
            health_check=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    try:
        module.exit_json(changed=False, fleets=run(module))
    except (FleetError, ProviderError, HAProxyError, ImageStoreError) as exc:
        module.fail_json(msg=str(exc))


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: fleet_drift
short_description: Find instances of a fleet that drifted from their image, and replace them
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - For every running instance of a fleet - whether it runs the fleet revision's image (by ID; the revision is the
    newest successful entry of the fleet's revision history), and its filesystem changes against its image (added,
    changed and deleted paths, from the engine's own diff - C(docker diff)) outside the runtime paths that may
    change (O(runtime_paths)). A changed directory is reported only when nothing under it is.
  - Read-only - the engine's diff compares the container's writable layer with its image; nothing is executed in,
    copied into or copied out of an instance.
  - Returns the findings per instance and a readable table, and writes them as JSON to O(report_path).
  - O(remediate=replace) replaces the drifted instances through M(immutable.infra.fleet_heal)'s path - under the
    fleet's lock, new instances of the revision's image, health-gated and added to the load balancer before the
    drifted ones are drained and removed. Anything else heal would replace (exited instances...) is replaced too.
extends_documentation_fragment:
  - immutable.infra.engine
  - immutable.infra.fleet
  - ansible.builtin.action_common_attributes
options:
  spec:
    description:
      - The fleet spec, as declared in C(immutable_fleets.<fleet>) in the inventory. O(remediate=replace) uses its
        C(instances), C(service_port), C(health), C(drain_timeout) and C(monitor).
    type: dict
    required: true
  runtime_paths:
    description:
      - Absolute paths (or shell patterns such as C(/srv/app/*.pid)) an instance may change without drifting; a
        change at or under one of them is no finding. Replaces the default list; keep its entries when adding one.
    type: list
    elements: str
    default: [/tmp, /var/tmp, /run, /var/run, /var/log, /var/cache, /var/lib/nginx, /proc, /sys, /dev]
  report_path:
    description:
      - Write the findings as JSON to this file on the controller (the folder is created). The report has no
        timestamp, so an unchanged fleet gives the same file; the task is C(changed) when the file's content
        changes (in check mode, when it would; it is not written).
    type: path
  remediate:
    description: C(none) only reports; C(replace) replaces the drifted instances (see above).
    type: str
    choices: [none, replace]
    default: none
attributes:
  check_mode:
    support: full
    details: The findings as usual; with O(remediate=replace), what would be replaced; the report is not written.
  diff_mode:
    support: partial
    details: With O(remediate=replace), the instances before and after.
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API (and to the load balancer's runtime API to remediate).
'''

EXAMPLES = r'''
- name: Drift of the web fleet, with a JSON report
  immutable.infra.fleet_drift:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    report_path: "{{ playbook_dir }}/../.state/drift-web.json"
  register: web_drift

- name: Show it
  ansible.builtin.debug:
    msg: "{{ web_drift.table }}"

- name: Replace the drifted instances; the application may also write under /srv/app/state
  immutable.infra.fleet_drift:
    fleet: web
    spec: "{{ immutable_fleets.web }}"
    runtime_paths: [/tmp, /var/tmp, /run, /var/run, /var/log, /var/cache, /var/lib/nginx, /proc, /sys, /dev, /srv/app/state]
    remediate: replace
'''

RETURN = r'''
fleet:
  description: Name of the fleet.
  returned: always
  type: str
  sample: web
revision:
  description: The fleet revision the instances are compared with (number, version, image_id).
  returned: always
  type: dict
  sample: {number: 4, version: 1.1.0, image_id: "sha256:9f2c..."}
runtime_paths:
  description: The runtime paths used (normalized).
  returned: always
  type: list
  elements: str
  sample: [/tmp, /run, /var/log]
findings:
  description:
    - One per running instance - name, revision, version, state, image_id, expected_image_id, image_drift (runs
      another image), changes (C(added), C(changed), C(deleted) paths outside the runtime paths) and drifted.
  returned: always
  type: list
  elements: dict
  sample: [{name: web-r4-9f8e7d, revision: 4, version: 1.1.0, state: running, image_id: "sha256:9f2c...",
            expected_image_id: "sha256:9f2c...", image_drift: false,
            changes: {added: [/etc/evil.conf], changed: [], deleted: []}, drifted: true}]
drifted:
  description: Names of the drifted instances (as found, before any remediation).
  returned: always
  type: list
  elements: str
  sample: [web-r4-9f8e7d]
skipped:
  description: Instances not compared because they do not run (name, state, version).
  returned: always
  type: list
  elements: dict
  sample: [{name: web-r3-1a2b3c, state: stopped, version: 1.0.0}]
table:
  description: The findings as a readable table, one line per instance and one per changed path.
  returned: always
  type: list
  elements: str
  sample: ["INSTANCE                     DRIFTED  DETAILS", "web-r4-9f8e7d                yes      added /etc/evil.conf"]
report_path:
  description: Absolute path of the JSON report.
  returned: when report_path was given
  type: str
  sample: /home/ops/drift-web.json
report_changed:
  description: Whether the report's content changed (in check mode, would change).
  returned: when report_path was given
  type: bool
  sample: true
remediation:
  description:
    - The heal run that replaced the drifted instances (outcome, plan, replaced, created, removed, events), as
      M(immutable.infra.fleet_heal) returns it.
  returned: with remediate=replace
  type: dict
  sample: {outcome: healed, replaced: [{name: web-r4-9f8e7d, reason: drifted, replacement: web-r4-5d6e7f}],
           created: [web-r4-5d6e7f], removed: [web-r4-9f8e7d]}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.drift import DEFAULT_RUNTIME_PATHS, DriftError
from ansible_collections.immutable.infra.plugins.module_utils.drift_scan import Drift
from ansible_collections.immutable.infra.plugins.module_utils.fleet_module import (
    fleet_argument_spec, fleet_engine, run_fleet_module,
)


def run(module):
    p = module.params
    return Drift(fleet_engine(p)).run(p['runtime_paths'], p['remediate'] == 'replace', p['report_path'],
                                      module.check_mode, p['break_lock'])


def main():
    module = AnsibleModule(
        argument_spec=fleet_argument_spec(
            runtime_paths=dict(type='list', elements='str', default=list(DEFAULT_RUNTIME_PATHS)),
            report_path=dict(type='path'),
            remediate=dict(type='str', default='none', choices=['none', 'replace']),
        ),
        supports_check_mode=True,
    )
    run_fleet_module(module, run, errors=(DriftError,))


if __name__ == '__main__':
    main()

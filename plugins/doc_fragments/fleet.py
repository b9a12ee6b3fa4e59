# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    """Options shared by the modules that change a fleet (fleet_rollout, fleet_heal, fleet_drift)."""

    DOCUMENTATION = r'''
options:
  fleet:
    description: Name of the fleet (lower-case letters, digits and C(-)).
    type: str
    required: true
  overrides:
    description:
      - Fields that replace the spec's for this run - top-level fields by name (C(version), C(channel),
        C(instances) (1 to 100), C(listen), C(listen_public)...), fields of a group by their flat name (C(max_surge),
        C(max_unavailable), C(keep_revisions), C(canary_weight), C(analysis_window), C(health_path),
        C(health_start_period)...) or a whole group as a dict. Null values are ignored.
      - The C(strategy) field is overridden by C(rollout_strategy) (Ansible reserves the name C(strategy), so an
        extra var of that name warns on every run). C(strategy) still works and returns a deprecation.
        C(rollout_strategy) was added in version 0.2.0.
      - A C(version) replaces a C(channel) of the spec, and the other way round.
    type: dict
    default: {}
  break_lock:
    description:
      - Break the fleet's lock even when its holder may still run (for a holder on another host that died).
      - A holder whose process is gone on this host is taken over without it.
    type: bool
    default: false
'''

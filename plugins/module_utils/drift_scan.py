# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scan a fleet for drift: which instances do not run the fleet revision's image, and which changed their
filesystem against their image outside the runtime paths. The classification is the pure ``drift.py``; this file
reads the engine and writes the report.

The filesystem changes come from the provider's ``diff(instance)``, the engine's own diff of an instance against
its image (Docker: ``GET /containers/<id>/changes``, what ``docker diff`` prints). It is read-only: nothing is
executed in, copied into or copied out of an instance.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

from ansible_collections.immutable.infra.plugins.module_utils import drift
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError, check_capabilities
from ansible_collections.immutable.infra.plugins.module_utils.image_files import write_atomic
from ansible_collections.immutable.infra.plugins.module_utils.heal import DEFAULT_UNHEALTHY_AFTER, Healer, fleet_revision
from ansible_collections.immutable.infra.plugins.module_utils.provider import provider_name
from ansible_collections.immutable.infra.plugins.module_utils.rollout import in_parallel


def scan(provider, fleet, diff, runtime_paths, image_name=None):
    """Drift of every running instance of ``fleet``.

    Returns ``{fleet, revision: {number, version, image_id}, runtime_paths, findings, drifted, skipped}``;
    ``findings`` are ``drift.instance_drift`` dicts plus revision, version and state, in instance order;
    ``skipped`` names the instances that do not run (heal's business, or kept stopped for a rollback).
    """
    paths = drift.normalize_runtime_paths(runtime_paths)
    instances = provider.instances(fleet)
    history = provider.read_history(fleet)
    if not instances and not history:
        raise FleetError('fleet %s has nothing on the engine: no instance, no revision history' % fleet)
    target = fleet_revision(fleet, history, instances, image_name)
    running = [i for i in instances if i.running]

    def finding(inst):
        found = drift.instance_drift(inst.as_dict(), target['id'], diff(inst), paths)
        found.update(revision=inst.revision, version=inst.version, state=inst.state)
        return found

    findings = in_parallel(finding, running)
    return {
        'fleet': fleet,
        'revision': {'number': target['revision'], 'version': target['version'], 'image_id': target['id']},
        'runtime_paths': paths,
        'findings': findings,
        'drifted': [f['name'] for f in findings if f['drifted']],
        'skipped': [{'name': i.name, 'state': i.state, 'version': i.version} for i in instances if not i.running],
    }


def drift_detail(finding):
    """One line saying why an instance drifted (for the heal plan): the other image, and every filesystem change
    grouped by kind (``2 filesystem change(s) against its image: added /etc/a, /etc/b; deleted /etc/c``)."""
    parts = []
    if finding['image_drift']:
        parts.append('runs image %s, not the fleet revision\'s %s'
                     % ((finding['image_id'] or '?')[:19], (finding['expected_image_id'] or '?')[:19]))
    changes = finding['changes']
    count = sum(len(paths) for paths in changes.values())
    if count:
        kinds = ['%s %s' % (kind, ', '.join(changes[kind])) for kind in ('added', 'changed', 'deleted')
                 if changes[kind]]
        parts.append('%d filesystem change(s) against its image: %s' % (count, '; '.join(kinds)))
    return '; '.join(parts)


def report_document(result):
    """The JSON report: what drift found (and replaced); no timestamp, so an unchanged fleet gives the same file."""
    doc = {
        'fleet': result['fleet'],
        'revision': result['revision'],
        'runtime_paths': result['runtime_paths'],
        'findings': result['findings'],
        'drifted': result['drifted'],
        'skipped': result['skipped'],
    }
    if result.get('remediation'):
        doc['remediation'] = {k: result['remediation'].get(k) for k in ('outcome', 'replaced', 'created', 'removed')}
    return json.dumps(doc, indent=2, sort_keys=True) + '\n'


def write_report(path, content, check_mode=False):
    """Write ``content`` to ``path`` (atomically) unless it already holds it; returns whether it changed (in check
    mode: whether it would). Raises FleetError when the file cannot be written."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        with open(path) as handle:
            if handle.read() == content:
                return False
    except (IOError, OSError):
        pass
    if check_mode:
        return True
    folder = os.path.dirname(path)
    try:
        if not os.path.isdir(folder):
            os.makedirs(folder)
        write_atomic(path, content.encode('utf-8'), 0o644)
    except (IOError, OSError) as exc:
        raise FleetError('cannot write the drift report %s: %s' % (path, exc))
    return True


class Drift:
    """Drift of one fleet with a ``FleetEngine`` (its provider, and its lock and load balancer to remediate)."""

    def __init__(self, engine, unhealthy_after=DEFAULT_UNHEALTHY_AFTER):
        self.engine = engine
        self.diff = engine.provider.diff
        self.unhealthy_after = unhealthy_after

    def run(self, runtime_paths, remediate=False, report_path=None, check_mode=False, break_lock=False):
        """Scan; with ``remediate``, replace the drifted instances through the heal path; write the report.

        Returns the result dict; raises FleetError (with ``result``) when the remediation failed.
        """
        engine = self.engine
        check_capabilities(engine.fleet, engine.spec, provider_name(engine.provider), engine.provider.capabilities,
                           operation='drift')
        found = scan(engine.provider, engine.fleet, self.diff, runtime_paths,
                     engine.spec['image'] if engine.spec else None)
        result = dict(found, changed=False, table=drift.report_lines(found['findings']), warnings=engine.warnings)
        force = dict((f['name'], drift_detail(f)) for f in found['findings'] if f['drifted'])
        if remediate and force:
            # The heal path judges health on the load balancer's record only: no watch window here.
            healer = Healer(engine, self.unhealthy_after, watch=False)
            try:
                healed = healer.run(check_mode, break_lock, force=force)
            except FleetError as exc:
                result['remediation'] = self._remediation(exc.result)
                result['changed'] = bool(exc.result.get('changed'))
                self._report(result, report_path, check_mode)
                raise FleetError('drift remediation of fleet %s: %s' % (engine.fleet, exc), result=result)
            result['remediation'] = self._remediation(healed)
            result['changed'] = healed['changed']
            result['diff'] = healed.get('diff')
        elif remediate:
            result['remediation'] = {'outcome': 'unchanged', 'replaced': [], 'created': [], 'removed': [],
                                     'events': engine.events}
        self._report(result, report_path, check_mode)
        return result

    @staticmethod
    def _remediation(healed):
        keys = ('outcome', 'plan', 'replaced', 'created', 'removed', 'events', 'instances')
        return dict((key, healed.get(key)) for key in keys if key in healed)

    @staticmethod
    def _report(result, report_path, check_mode):
        if not report_path:
            return
        result['report_path'] = os.path.abspath(os.path.expanduser(report_path))
        result['report_changed'] = write_report(report_path, report_document(result), check_mode)
        result['changed'] = result['changed'] or result['report_changed']

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the fleet modules (fleet_rollout, fleet_heal, fleet_drift) share: options, engine, result handling."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.fleet import (
    FleetError, check_capabilities, format_listen, listen_note, override_deprecations, resolve_spec,
)
from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import capabilities, connect
from ansible_collections.immutable.infra.plugins.module_utils.rollout import FleetEngine

ENGINE_ERRORS = (ProviderError, HAProxyError, ImageStoreError)


def fleet_argument_spec(spec_required=True, **extra):
    """The engine options, the fleet options every fleet module takes, and the module's own ``extra``."""
    return engine_argument_spec(
        fleet=dict(type='str', required=True),
        spec=dict(type='dict', required=spec_required),
        overrides=dict(type='dict', default={}),
        break_lock=dict(type='bool', default=False),
        **extra
    )


def fleet_connection(params, spec=None):
    """The module's provider connection (option ``provider``, from the registry). With ``spec`` (a resolved fleet
    spec), the spec's strategy is first checked against the provider's declared capabilities: a strategy it
    cannot run fails before the engine is reached."""
    if spec is not None:
        check_capabilities(params['fleet'], spec, params['provider'], capabilities(params['provider']))
    return connect(params['provider'], params)


def fleet_engine(params):
    """A FleetEngine for the module's fleet on the module's provider, with the resolved spec."""
    spec = resolve_spec(params['fleet'], params['spec'], params['overrides'])
    return FleetEngine(fleet_connection(params).provider(), params['fleet'], spec)


def note_listen(spec, result):
    """Say in ``result``'s plan (and diff) where the load balancer is published: ``plan.listen``,
    ``plan.listen_public`` and, for a public address, a line in ``plan.notes``. Returns ``result``."""
    plan = result.get('plan')
    if not isinstance(plan, dict):
        return result
    plan['listen'] = format_listen(spec['listen_host'], spec['listen_port'])
    plan['listen_public'] = spec['listen_public']
    note = listen_note(spec)
    if note:
        plan['notes'] = list(plan.get('notes') or []) + [note]
        diff = result.get('diff')
        if isinstance(diff, dict) and 'after' in diff:
            diff['after'] += note + '\n'
    return result


def _finish(module, result, msg=None):
    for warning in result.pop('warnings', []):
        module.warn(warning)
    if not module._diff:
        result.pop('diff', None)
    if msg:
        module.fail_json(msg=msg, **result)
    module.exit_json(**result)


def run_fleet_module(module, run, errors=()):
    """Run ``run(module)`` and exit: its result, or a failure carrying what was done before it (FleetError),
    or a plain failure message for an engine error or one of ``errors``. Overrides given under a deprecated name
    are reported in the result's ``deprecations``."""
    for msg in override_deprecations(module.params.get('overrides')):
        module.deprecate(msg, version='2.0.0', collection_name='immutable.infra')
    try:
        result = run(module)
    except FleetError as exc:
        _finish(module, dict(exc.result), msg=str(exc))
    except ENGINE_ERRORS + tuple(errors) as exc:
        module.fail_json(msg=str(exc))
    _finish(module, result)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleet_rollout's glue around the engine: the spec refused before the engine is reached, where the load balancer
is published in the plan, the deprecated ``strategy`` override."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from ansible.module_utils import basic

from ansible_collections.immutable.infra.plugins.module_utils import fleet_module
from ansible_collections.immutable.infra.plugins.modules import fleet_rollout

import module_harness

SPEC = {'image': 'web', 'version': '1.0.0', 'lb_version': '1.0.0', 'listen': '127.0.0.1:27001'}


class FakeConnection:
    """Stands in for the registry's connection to the provider: a provider and an image store, never used."""

    made = []

    def __init__(self, name, params):
        self.name = name
        self.params = params
        FakeConnection.made.append(self)

    def provider(self):
        return object()

    def image_store(self):
        return object()


class FakeEngine:
    """Stands in for FleetEngine: records what the module asked and answers with a plan."""

    calls = []

    def __init__(self, provider, fleet, spec=None):
        self.fleet = fleet
        self.spec = spec

    def rollback_target(self, store):
        return {'version': '0.9.0', 'id': 'sha256:old'}

    def rollback_strategy(self, target):
        return 'blue_green'

    def rollout(self, target, lb_image, check_mode=False, break_lock=False, strategy=None, rollback_of=None):
        FakeEngine.calls.append({'target': target, 'strategy': strategy, 'check_mode': check_mode})
        return {'changed': False, 'fleet': self.fleet, 'outcome': 'planned', 'strategy': strategy or 'rolling',
                'plan': {'changed': True, 'lb': 'create'}, 'events': [], 'warnings': [],
                'diff': {'before': 'fleet: %s\n' % self.fleet, 'after': 'fleet: %s\n' % self.fleet}}


@pytest.fixture
def engine(monkeypatch):
    """No engine at all: every boundary of the module is a fake; ``deprecations`` collects module.deprecate."""
    FakeEngine.calls = []
    FakeConnection.made = []
    deprecations = []
    monkeypatch.setattr(fleet_module, 'connect', FakeConnection)
    monkeypatch.setattr(fleet_rollout, 'FleetEngine', FakeEngine)
    monkeypatch.setattr(fleet_rollout, 'resolve_image',
                        lambda store, name, version, channel, verified: {'version': version, 'id': 'sha256:' + name})
    monkeypatch.setattr(basic.AnsibleModule, 'deprecate',
                        lambda self, msg, version=None, date=None, collection_name=None, **kw:
                        deprecations.append((msg, version, collection_name)))
    return deprecations


def run(spec=None, **args):
    params = dict({'fleet': 'fspec', 'spec': dict(SPEC, **(spec or {})), '_ansible_check_mode': True,
                   '_ansible_diff': True}, **args)
    return module_harness.run_module(fleet_rollout, params)


@pytest.mark.parametrize('listen', ['foo bar:27006', '[]:27006', '0.0.0.0:27006', 'example.com:80'])
def test_bad_or_public_listen_fails_before_the_engine_is_reached(monkeypatch, listen):
    def no_engine(*args):
        raise AssertionError('the module reached the engine')
    monkeypatch.setattr(fleet_module, 'connect', no_engine)
    outcome, result = run({'listen': listen})
    assert outcome == 'fail'
    assert result['msg'].startswith('fleet fspec: listen '), result['msg']


def test_public_listen_is_said_in_the_plan_and_the_diff(engine):
    outcome, result = run({'listen': '0.0.0.0:27006', 'listen_public': True})
    assert outcome == 'exit', result
    note = 'load balancer published on PUBLIC address 0.0.0.0:27006 (listen_public: true)'
    assert result['plan']['notes'] == [note]
    assert result['plan']['listen'] == '0.0.0.0:27006' and result['plan']['listen_public'] is True
    assert result['diff']['after'].endswith(note + '\n')


def test_loopback_listen_has_no_note(engine):
    outcome, result = run({'listen': 'localhost:27006'})
    assert outcome == 'exit', result
    assert 'notes' not in result['plan']
    assert result['plan']['listen'] == '127.0.0.1:27006' and result['plan']['listen_public'] is False


def test_strategy_override_is_deprecated_but_works(engine):
    outcome, result = run(overrides={'strategy': 'canary'}, rollback=True)
    assert outcome == 'exit', result
    assert FakeEngine.calls[-1]['strategy'] == 'canary'
    assert len(engine) == 1
    msg, version, collection = engine[0]
    assert 'rollout_strategy' in msg and version == '2.0.0' and collection == 'immutable.infra'


def test_rollout_strategy_override_has_no_deprecation(engine):
    outcome, result = run(overrides={'rollout_strategy': 'canary'}, rollback=True)
    assert outcome == 'exit', result
    assert FakeEngine.calls[-1]['strategy'] == 'canary' and engine == []
    outcome, result = run(rollback=True)
    assert FakeEngine.calls[-1]['strategy'] == 'blue_green'     # the engine's choice without an override


def test_the_provider_comes_from_the_registry_by_the_provider_option(engine):
    outcome, result = run()
    assert outcome == 'exit', result
    assert [(c.name, c.params['repository']) for c in FakeConnection.made] == [('docker', 'immutable')]


def test_a_strategy_the_provider_cannot_run_fails_before_the_engine_is_reached(monkeypatch):
    def no_engine(*args):
        raise AssertionError('the module reached the engine')
    monkeypatch.setattr(fleet_module, 'connect', no_engine)
    monkeypatch.setattr(fleet_module, 'capabilities', lambda name: frozenset())
    outcome, result = run({'strategy': 'canary'})
    assert outcome == 'fail'
    assert result['msg'].startswith('fleet fspec: provider docker lacks weighted_traffic (strategy canary '), result
    outcome, result = run(overrides={'rollout_strategy': 'blue_green'})
    assert outcome == 'fail' and 'provider docker lacks staged_switch (' in result['msg'], result


def test_an_unknown_provider_is_refused_by_its_choices(monkeypatch):
    def no_engine(*args):
        raise AssertionError('the module reached the engine')
    monkeypatch.setattr(fleet_module, 'connect', no_engine)
    outcome, result = run(provider='swarm')
    assert outcome == 'fail'
    assert 'provider' in result['msg'] and 'docker' in result['msg'] and 'swarm' in result['msg'], result

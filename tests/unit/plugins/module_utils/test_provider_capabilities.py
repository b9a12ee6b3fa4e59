# -*- coding: utf-8 -*-
"""Provider capabilities: a spec the provider cannot run is refused, naming the provider and what it lacks, before
anything is observed or changed; what it can run works as before (the fakes of fleet_fakes.py)."""

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import drift, drift_scan
from ansible_collections.immutable.infra.plugins.module_utils.fleet import (
    FleetError, check_capabilities, needed_capabilities,
)
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    CAPABILITIES, FILESYSTEM_DIFF, KEEP_STOPPED, LB_ROLL, STAGED_SWITCH, TRAFFIC_COUNTERS, WEIGHTED_TRAFFIC,
    Provider, provider_name,
)

from fleet_fakes import LB_IMAGE, World, make_spec, target


def world_without(*missing):
    world = World()
    world.provider.capabilities = frozenset(CAPABILITIES) - set(missing)
    return world


def untouched(world):
    """Nothing was created, locked or recorded, and the load balancer was never asked for."""
    assert world.provider.items == {} and world.provider.lb is None
    assert world.provider.lock is None and world.provider.history == []
    assert world.provider.calls == []


# What each strategy needs -----------------------------------------------------------------------------------
def test_rolling_needs_nothing_canary_weights_and_counters_blue_green_a_staged_switch():
    assert needed_capabilities(make_spec()) == []
    assert [c for c, why in needed_capabilities(make_spec(rollout_strategy='canary'))] == [WEIGHTED_TRAFFIC,
                                                                                           TRAFFIC_COUNTERS]
    assert [c for c, why in needed_capabilities(make_spec(rollout_strategy='blue_green'))] == [STAGED_SWITCH,
                                                                                               KEEP_STOPPED]
    assert [c for c, why in needed_capabilities(make_spec(rollout_strategy='blue_green', keep_revisions=0))] == [
        STAGED_SWITCH]
    # The strategy a run uses wins over the spec's (a rollback, an override).
    assert [c for c, why in needed_capabilities(make_spec(), strategy='canary')][0] == WEIGHTED_TRAFFIC
    assert needed_capabilities(make_spec(), operation='drift')[0][0] == FILESYSTEM_DIFF


def test_the_message_names_the_fleet_the_provider_the_capability_and_what_to_do():
    with pytest.raises(FleetError) as caught:
        check_capabilities('web', make_spec(rollout_strategy='canary'), 'swarm', frozenset([TRAFFIC_COUNTERS]))
    msg = str(caught.value)
    assert msg == ('fleet web: provider swarm lacks weighted_traffic (strategy canary gives the canary 20% of the '
                   'traffic by weight (canary_weight)). Nothing was changed: use rollout_strategy rolling (it needs '
                   'none of them) or a provider that has it.'), msg
    check_capabilities('web', make_spec(rollout_strategy='canary'), 'docker', frozenset(CAPABILITIES))


def test_a_provider_declares_no_capability_unless_it_says_so():
    assert Provider.capabilities == frozenset() and Provider.name is None

    class Bare(object):
        name = None
    assert provider_name(Bare()) == 'Bare'
    assert provider_name(World().provider) == 'fake'


# The engine refuses before anything changes -----------------------------------------------------------------
@pytest.mark.parametrize('check_mode', [True, False])
def test_canary_on_a_provider_without_weighted_traffic_is_refused_and_nothing_changes(check_mode):
    world = world_without(WEIGHTED_TRAFFIC)
    engine = world.engine(make_spec(rollout_strategy='canary'))
    with pytest.raises(FleetError, match='fleet web: provider fake lacks weighted_traffic '):
        engine.rollout(target('sha256:v1'), LB_IMAGE, check_mode=check_mode)
    untouched(world)
    assert engine.events == []


def test_blue_green_without_a_staged_switch_is_refused():
    world = world_without(STAGED_SWITCH)
    with pytest.raises(FleetError, match='provider fake lacks staged_switch .*blue_green stages the new set'):
        world.engine(make_spec(rollout_strategy='blue_green')).rollout(target('sha256:v1'), LB_IMAGE)
    untouched(world)


def test_blue_green_keeping_revisions_needs_kept_stopped_instances_and_runs_without_keeping():
    world = world_without(KEEP_STOPPED)
    with pytest.raises(FleetError, match='lacks keep_stopped .*Nothing was changed: set keep_revisions to 0'):
        world.engine(make_spec(rollout_strategy='blue_green')).rollout(target('sha256:v1'), LB_IMAGE)
    untouched(world)
    result = world.engine(make_spec(rollout_strategy='blue_green', keep_revisions=0)).rollout(
        target('sha256:v1'), LB_IMAGE)
    assert result['outcome'] == 'succeeded' and world.serving_versions() == ['1.0.0'] * 3


def test_the_strategy_of_the_run_is_checked_not_only_the_specs():
    world = world_without(WEIGHTED_TRAFFIC, TRAFFIC_COUNTERS)
    with pytest.raises(FleetError, match=r'lacks weighted_traffic \(.*\), traffic_counters \('):
        world.engine().rollout(target('sha256:v1'), LB_IMAGE, strategy='canary')
    untouched(world)


def test_rolling_runs_on_a_provider_with_no_capability_at_all():
    world = World()
    world.provider.capabilities = frozenset()
    result = world.engine().rollout(target('sha256:v1'), LB_IMAGE)
    assert result['outcome'] == 'succeeded' and world.serving_versions() == ['1.0.0'] * 3
    result = world.engine().rollout(target('sha256:v2'), LB_IMAGE)
    assert result['outcome'] == 'succeeded' and world.serving_versions() == ['1.1.0'] * 3


def test_a_new_lb_version_on_a_provider_that_cannot_roll_load_balancers_is_refused():
    world = World()
    world.engine().rollout(target('sha256:v1'), LB_IMAGE)
    world.provider.capabilities -= {LB_ROLL}
    before = sorted(world.provider.items)
    calls = list(world.provider.calls)
    with pytest.raises(FleetError, match='provider fake lacks lb_roll .*keep lb_version as it is'):
        world.engine().rollout(target('sha256:v1'), dict(LB_IMAGE, id='sha256:lb2', version='1.1.0'))
    assert sorted(world.provider.items) == before and world.provider.calls == calls
    assert world.provider.lock is None and world.provider.lb.image_id == LB_IMAGE['id']


def test_drift_needs_a_provider_that_diffs_instances():
    world = World()
    world.engine().rollout(target('sha256:v1'), LB_IMAGE)
    world.provider.capabilities -= {FILESYSTEM_DIFF}

    def no_diff(instance):
        raise AssertionError('diff() was called')
    world.provider.diff = no_diff
    with pytest.raises(FleetError, match='fleet web: provider fake lacks filesystem_diff .*use a provider that has'):
        drift_scan.Drift(world.engine()).run(list(drift.DEFAULT_RUNTIME_PATHS))

# -*- coding: utf-8 -*-
"""One model for plan and run (issue 12, item 3): a real rollout executes the steps check mode shows, and
re-plans from a fresh observation only when the fleet is not what the next step expects (fleet_fakes.py)."""

import pytest

from fleet_fakes import LB_IMAGE, World, make_spec, target


@pytest.fixture
def world():
    return World()


def ran(result):
    """The steps a real run executed, without the names of the instances each brought in."""
    return [dict((k, v) for k, v in step.items() if k != 'instances') for step in result['steps']]


def check_then_run(world, spec, image_id='sha256:v2'):
    check = world.engine(spec).rollout(target(image_id), LB_IMAGE, check_mode=True)
    assert check['outcome'] == 'planned' and check['planned_steps'] == check['plan']['steps']
    result = world.engine(spec).rollout(target(image_id), LB_IMAGE)
    assert result['outcome'] == 'succeeded', result['events']
    return check, result


@pytest.mark.parametrize('instances,surge,unavailable', [
    (3, 1, 0), (3, 0, 1), (3, 2, 1), (5, 3, 2), (10, 2, 0), (10, 2, 1), (10, '25%', '10%'), (10, 0, 3),
])
def test_rolling_runs_the_steps_check_mode_shows(world, instances, surge, unavailable):
    spec = make_spec(instances=instances, max_surge=surge, max_unavailable=unavailable)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    world.lb.capacity = []
    check, result = check_then_run(world, spec)
    assert check['plan']['steps'], check['plan']
    assert ran(result) == check['plan']['steps']
    assert result['planned_steps'] == check['plan']['steps'] and result['replanned'] == []
    assert [len(s['instances']) for s in result['steps']] == [s['create'] for s in check['plan']['steps']]
    created = [n for s in result['steps'] for n in s['instances']]
    assert sorted(created) == sorted(world.provider.items)
    assert world.serving_versions() == ['1.1.0'] * instances


def test_ten_instances_with_max_surge_2_roll_in_five_planned_steps(world):
    spec = make_spec(instances=10, max_surge=2)
    first = world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    assert ran(first) == first['planned_steps'] == [{'retire_first': [], 'create': 10, 'retire': []}]
    old = sorted(world.provider.items)
    check, result = check_then_run(world, spec)
    assert [(len(s['retire_first']), s['create'], len(s['retire'])) for s in ran(result)] == [(0, 2, 2)] * 5
    assert sorted(n for s in ran(result) for n in s['retire']) == old
    assert ran(result) == check['plan']['steps']


def test_blue_green_runs_the_switch_check_mode_shows(world):
    spec = make_spec(strategy='blue_green', instances=4)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    check, result = check_then_run(world, spec)
    assert [s.get('switch') for s in check['plan']['steps']] == [True]
    assert ran(result) == check['plan']['steps'] and result['replanned'] == []
    assert len(result['steps'][0]['instances']) == 4
    assert sorted(i.version for i in world.provider.items.values() if i.state == 'stopped') == ['1.0.0'] * 4


@pytest.mark.parametrize('instances,canaries', [(3, 1), (10, 2)])
def test_canary_runs_the_canary_step_then_the_rolling_steps_check_mode_shows(world, instances, canaries):
    spec = make_spec(strategy='canary', instances=instances, canary_instances=canaries, max_surge=2)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    check, result = check_then_run(world, spec)
    steps = check['plan']['steps']
    assert steps[0]['create'] == canaries and 'canary_weight' in steps[0] and len(steps) > 1
    assert ran(result) == steps and result['replanned'] == []
    assert result['analysis']['passed'] and result['analysis']['weight'] == steps[0]['canary_weight']
    assert world.serving_versions() == ['1.1.0'] * instances


def test_the_plan_of_a_canary_with_nothing_to_compare_with_is_rolling_and_runs_so(world):
    spec = make_spec(strategy='canary')
    check = world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE, check_mode=True)
    result = world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    assert check['plan']['strategy'] == result['strategy'] == 'rolling'
    assert ran(result) == check['plan']['steps']


def _kill_after_watch(world, engine, number, pick):
    """After the ``number``-th monitor window opens, the instance ``pick()`` names crashes."""
    real_watch = engine.watch
    seen = {'n': 0, 'victim': None}

    def watch(instances, seconds):
        real_watch(instances, seconds)
        seen['n'] += 1
        if seen['n'] == number:
            seen['victim'] = pick()
            world.provider.items[seen['victim']].state = 'stopped'

    engine.watch = watch
    return seen


def test_an_old_instance_that_dies_mid_run_makes_the_run_replan_and_converge(world):
    spec = make_spec(instances=10, max_surge=2)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    world.lb.capacity = []
    check = world.engine(spec).rollout(target('sha256:v2'), LB_IMAGE, check_mode=True)
    planned = check['plan']['steps']
    engine = world.engine(spec)
    # After step 1, an old instance that step 4 was to retire crashes.
    seen = _kill_after_watch(world, engine, 1, lambda: planned[3]['retire'][0])
    result = engine.rollout(target('sha256:v2'), LB_IMAGE)
    assert result['outcome'] == 'succeeded', result['events']
    assert result['planned_steps'] == planned
    assert [r['step'] for r in result['replanned']] == [1]
    assert seen['victim'] in result['replanned'][0]['reason'] and 'stopped' in result['replanned'][0]['reason']
    assert ran(result)[:1] == planned[:1]
    assert ran(result)[1:] == result['replanned'][0]['steps']
    assert seen['victim'] not in [n for s in ran(result) for n in s['retire_first'] + s['retire']]
    assert world.running_versions() == ['1.1.0'] * 10 and world.serving_versions() == ['1.1.0'] * 10
    assert sorted(world.lb.servers_) == sorted(world.provider.items)
    assert min(world.lb.capacity) >= 9  # the crashed one aside, never below the count
    assert any('planning the remaining steps again' in e['event'] for e in result['events'])
    assert world.provider.history[-1]['outcome'] == 'succeeded'


def test_a_new_instance_that_dies_after_its_window_is_replaced_by_a_replan(world):
    spec = make_spec(instances=10, max_surge=2)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    engine = world.engine(spec)
    first = []
    real_bring_in = engine.bring_in

    def bring_in(*args, **kwargs):
        brought = real_bring_in(*args, **kwargs)
        first.extend(i.name for i in brought if not first)
        return brought

    engine.bring_in = bring_in
    # After step 3 (the window of step 1 closed long ago), the first instance step 1 created crashes.
    seen = _kill_after_watch(world, engine, 3, lambda: first[0])
    result = engine.rollout(target('sha256:v2'), LB_IMAGE)
    assert result['outcome'] == 'succeeded', result['events']
    assert [r['step'] for r in result['replanned']] == [3]
    assert 'of the target no longer serve (%s is stopped)' % seen['victim'] in result['replanned'][0]['reason']
    assert sum(s['create'] for s in ran(result)) == 11
    assert seen['victim'] not in world.provider.items
    assert world.running_versions() == ['1.1.0'] * 10 and world.serving_versions() == ['1.1.0'] * 10


def test_an_instance_that_dies_inside_its_window_still_fails_and_rolls_back(world):
    """A fault inside a monitor window is a failed step (rolled back), not a reason to re-plan."""
    spec = make_spec(instances=4, max_surge=1, monitor=30)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    engine = world.engine(spec)
    seen = _kill_after_watch(world, engine, 1, lambda: sorted(
        n for n, i in world.provider.items.items() if i.image_id == 'sha256:v2')[0])
    with pytest.raises(Exception) as exc:
        engine.rollout(target('sha256:v2'), LB_IMAGE)
    result = exc.value.result
    assert result['outcome'] == 'rolled_back' and result['replanned'] == []
    assert 'monitor: %s' % seen['victim'] in str(exc.value)
    assert len(result['steps']) == 1
    assert world.serving_versions() == ['1.0.0'] * 4


def test_a_fleet_that_keeps_changing_fails_and_rolls_back(world):
    spec = make_spec(instances=3, max_surge=1)
    world.engine(spec).rollout(target('sha256:v1'), LB_IMAGE)
    engine = world.engine(spec)
    real_observe = engine.observe

    def observe():
        state = real_observe()
        if engine.analysis is None and any(i.image_id == 'sha256:v2' for i in state.running):
            # Someone else keeps adding a server the plan does not know.
            stranger = world.provider.create_instance('web', 'sha256:v1', '1.0.0', 1, 8080)
            world.lb.add_server(stranger.name, stranger.address[0], stranger.address[1], 100)
            world.lb.apply([('state', stranger.name, 'ready')])
            state = real_observe()
        return state

    engine.observe = observe
    with pytest.raises(Exception) as exc:
        engine.rollout(target('sha256:v2'), LB_IMAGE)
    assert 'the fleet kept changing during the rollout' in str(exc.value)
    assert exc.value.result['outcome'] in ('rolled_back', 'failed')
    assert len(exc.value.result['replanned']) == 5

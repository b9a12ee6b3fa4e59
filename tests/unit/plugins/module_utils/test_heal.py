# -*- coding: utf-8 -*-
"""Heal against the fleet fakes (fleet_fakes.py): what is replaced, when, in which order, and what is left alone."""

import os

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import heal
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError
from ansible_collections.immutable.infra.plugins.module_utils.provider import Instance

from fleet_fakes import LB_IMAGE, make_spec, target
from heal_fakes import HealWorld


@pytest.fixture
def world():
    w = HealWorld()
    w.deploy()
    return w


def names(world):
    return sorted(world.provider.items)


# Healthy fleet -----------------------------------------------------------------------------------------------
def test_a_healthy_fleet_is_unchanged_and_takes_no_lock(world):
    calls = list(world.provider.calls)
    commands = len(world.lb.commands)
    result = world.healer().run()
    assert result['changed'] is False and result['outcome'] == 'unchanged'
    assert result['plan']['replace'] == [] and result['plan']['create'] == 0
    assert world.provider.calls == calls and len(world.lb.commands) == commands
    assert not any('locked' in e['event'] for e in result['events'])
    assert result['revision'] == {'number': 1, 'version': '1.0.0', 'image_id': 'sha256:v1'}
    # One check per instance, no watch window.
    assert world.checks == 3


# Exited instances ----------------------------------------------------------------------------------------------
def test_an_exited_instance_is_replaced_by_a_new_one_never_restarted(world):
    victim = names(world)[0]
    world.kill(victim)
    result = world.healer().run()
    assert result['changed'] is True and result['outcome'] == 'healed'
    assert [(r['name'], r['reason']) for r in result['replaced']] == [(victim, 'exited')]
    new = result['created']
    assert len(new) == 1 and new[0] not in world.baseline and result['replaced'][0]['replacement'] == new[0]
    assert result['removed'] == [victim] and victim not in world.provider.items
    assert ('start', victim) not in world.provider.calls
    # The new instance serves before the dead one is taken out, and the count is back.
    calls = world.provider.calls
    assert calls.index(('create', new[0])) < calls.index(('remove', victim))
    assert len(world.running()) == 3 and world.serving_versions() == ['1.0.0'] * 3
    assert min(world.lb.capacity) >= 2
    # Same image, same revision number.
    created = world.provider.items[new[0]]
    assert (created.image_id, created.revision) == ('sha256:v1', 1)
    assert world.provider.lock is None
    # The history is the rollouts' record: heal writes no entry.
    assert len(world.provider.history) == 1
    again = world.healer().run()
    assert again['changed'] is False


def test_check_mode_lists_what_would_be_replaced_and_changes_nothing(world):
    victim = names(world)[1]
    world.kill(victim)
    calls = list(world.provider.calls)
    commands = len(world.lb.commands)
    result = world.healer().run(check_mode=True)
    assert result['changed'] is True and result['outcome'] == 'planned'
    assert [(r['name'], r['reason'], r['detail']) for r in result['plan']['replace']] == [
        (victim, 'exited', 'state stopped')]
    assert result['plan']['create'] == 1 and result['created'] == []
    assert '%s stopped' % victim in result['diff']['before'] and '1 new instance' in result['diff']['after']
    assert world.provider.calls == calls and len(world.lb.commands) == commands
    assert world.provider.lock is None


def test_a_missing_instance_is_created_and_its_stray_server_deleted(world):
    victim = names(world)[0]
    del world.provider.items[victim]   # someone removed the container
    result = world.healer().run()
    assert result['plan']['stray_servers'] == [victim] and result['plan']['create'] == 1
    assert victim not in world.lb.servers_
    assert len(world.running()) == 3 and world.serving_versions() == ['1.0.0'] * 3


def test_a_never_started_instance_is_removed(world):
    world.kill(names(world)[0])
    world.provider.items[names(world)[0]].state = 'pending'
    result = world.healer().run()
    assert (result['replaced'][0]['reason'], result['replaced'][0]['detail']) == ('not_running', 'state pending')
    assert len(world.running()) == 3


# Unhealthy instances -------------------------------------------------------------------------------------------
def test_an_instance_down_longer_than_the_threshold_by_the_lb_record_is_replaced_at_once(world):
    victim = names(world)[2]
    world.sick.add(victim)
    world.lb.lastchg[victim] = 45
    start = world.clock.now
    result = world.healer(unhealthy_after=30).run()
    assert [(r['name'], r['reason']) for r in result['replaced']] == [(victim, 'unhealthy')]
    assert 'failing its health check for 45' in result['replaced'][0]['detail']
    assert victim not in world.provider.items and len(world.running()) == 3
    # No waiting: the load balancer's record already says long enough (only gate, admit and monitor took time).
    assert world.clock.now - start < 15
    # The unhealthy instance kept its place until its replacement served.
    calls = world.provider.calls
    assert calls.index(('create', result['created'][0])) < calls.index(('remove', victim))


def test_an_instance_that_just_started_failing_is_watched_until_the_threshold(world):
    victim = names(world)[0]
    world.sick.add(victim)
    world.lb.lastchg[victim] = 5
    start = world.clock.now
    result = world.healer(unhealthy_after=20).run()
    assert [(r['name'], r['reason']) for r in result['replaced']] == [(victim, 'unhealthy')]
    assert any('watching %s' % victim in e['event'] for e in result['events'])
    # 5 s on the load balancer's record, so about 15 s more within this run, one check per interval.
    assert 14 <= world.clock.now - start
    assert world.checks > 10


def test_an_instance_that_recovers_during_the_watch_is_kept(world):
    victim = names(world)[0]
    world.sick.add(victim)
    world.recover_after[victim] = 3
    calls = list(world.provider.calls)
    result = world.healer(unhealthy_after=20).run()
    assert result['changed'] is False and result['recovered'] == [victim]
    assert world.provider.calls == calls


def test_without_watch_a_recent_failure_is_only_a_suspect(world):
    victim = names(world)[0]
    world.sick.add(victim)
    world.lb.lastchg[victim] = 3
    start = world.clock.now
    result = world.healer(unhealthy_after=30, watch=False).run()
    assert result['changed'] is False
    assert [s['name'] for s in result['plan']['suspects']] == [victim]
    assert result['plan']['suspects'][0]['failing_for'] == 3
    assert world.clock.now - start < 1


def test_unhealthy_after_zero_replaces_at_the_first_failed_check(world):
    victim = names(world)[0]
    world.sick.add(victim)
    result = world.healer(unhealthy_after=0).run()
    assert [r['name'] for r in result['replaced']] == [victim]


def test_a_negative_threshold_is_refused(world):
    with pytest.raises(FleetError, match='unhealthy_after'):
        world.healer(unhealthy_after=-1)


# Failures leave the fleet as it was ----------------------------------------------------------------------------
def test_a_replacement_failing_its_gate_is_removed_and_the_old_ones_stay(world):
    victim = names(world)[0]
    world.kill(victim)
    world.sick_new = True
    with pytest.raises(FleetError, match='No new instance came in, so nothing was removed') as exc:
        world.healer().run()
    assert exc.value.result['outcome'] == 'failed'
    assert names(world) == sorted(world.baseline)
    assert world.provider.items[victim].state == 'stopped'
    assert world.provider.lock is None


def test_provider_failure_is_reported_and_nothing_is_removed(world):
    victim = names(world)[0]
    world.kill(victim)
    world.provider.fail_create = True
    with pytest.raises(FleetError, match='engine says no'):
        world.healer().run()
    assert names(world) == sorted(world.baseline)
    assert world.provider.lock is None


# Lock and history ----------------------------------------------------------------------------------------------
def test_a_live_lock_holder_fails_fast_naming_it_and_nothing_changes(world):
    world.kill(names(world)[0])
    world.provider.lock = {'host': 'ctl', 'pid': str(os.getpid()), 'started': 'then',
                           'operation': 'rollout of web to 1.1.0 (rolling)', 'token': 'x'}
    calls = list(world.provider.calls)
    with pytest.raises(FleetError) as exc:
        world.healer().run()
    assert 'locked by rollout of web to 1.1.0 (rolling) (pid %d on ctl' % os.getpid() in str(exc.value)
    assert 'Nothing was changed' in str(exc.value)
    assert world.provider.calls == calls and world.provider.lock['token'] == 'x'


def test_check_mode_under_a_live_lock_warns_and_plans(world):
    world.kill(names(world)[0])
    world.provider.lock = {'host': 'ctl', 'pid': str(os.getpid()), 'operation': 'rollout', 'token': 'x'}
    result = world.healer().run(check_mode=True)
    assert result['changed'] is True and any('locked by rollout' in w for w in result['warnings'])


def test_the_lock_of_a_dead_heal_is_taken_over(world):
    world.kill(names(world)[0])
    world.provider.lock = {'host': 'ctl', 'pid': '999999', 'operation': 'heal of web', 'token': 'dead'}
    result = world.healer().run()
    assert result['outcome'] == 'healed' and any('broke the lock' in w for w in result['warnings'])
    assert world.provider.lock is None


def test_heal_holds_the_lock_while_it_changes_the_fleet(world):
    world.kill(names(world)[0])
    seen = []
    create = world.provider.create_instance

    def spy(*args):
        seen.append(dict(world.provider.lock or {}))
        return create(*args)
    world.provider.create_instance = spy
    world.healer().run()
    assert seen and seen[0]['operation'] == 'heal of web (replace 1, create 1)' and seen[0]['pid'] == '4242'


def test_an_unfinished_rollout_is_refused(world):
    world.provider.history.append(dict(world.provider.history[0], number=2, version='1.1.0', image_id='sha256:v2',
                                       outcome='in_progress'))
    world.kill(names(world)[0])
    calls = list(world.provider.calls)
    with pytest.raises(FleetError, match='did not finish'):
        world.healer().run()
    assert world.provider.calls == calls


def test_heal_and_drift_stop_when_the_history_disagrees_with_what_serves():
    """1.1.0 serves, its rollout says failed: heal must not add 1.0.0 instances, drift must not downgrade
    (issue 10, item 6); both name the rollout that fixes it and change nothing."""
    from ansible_collections.immutable.infra.plugins.module_utils import drift_scan
    world = HealWorld()
    world.deploy('sha256:v1')
    world.engine().rollout(target('sha256:v2'), LB_IMAGE)
    world.provider.history[-1].update(outcome='failed')
    world.kill(names(world)[0])
    calls = list(world.provider.calls)
    for attempt in (lambda: world.healer().run(), lambda: world.healer().run(check_mode=True),
                    lambda: drift_scan.scan(world.provider, 'web', lambda i: [], [])):
        with pytest.raises(FleetError) as exc:
            attempt()
        assert 'history disagrees' in str(exc.value) and '-e version=1.1.0' in str(exc.value)
    assert world.provider.calls == calls


def test_a_fleet_never_deployed_has_nothing_to_heal_with():
    world = HealWorld()
    world.provider.create_load_balancer('web', 'sha256:lb', '1.0.0', '127.0.0.1', 8080)
    with pytest.raises(FleetError, match='no successful revision'):
        world.healer().run()


def _serving(world):
    return sorted(n for n, s in world.lb.servers_.items() if s['admin'] == 'ready' and s['weight'] > 0)


def test_a_dead_load_balancer_is_replaced_serving_the_instances_from_its_first_request(world):
    """docker kill of the lb (issue 10, item 5): heal creates a new one with the healthy instances of the
    revision already in it, keeps them, and replaces only what is broken."""
    before = names(world)
    world.kill(before[0])
    world.provider.lb.state = 'exited'
    world.lb.capacity = []
    check = world.healer().run(check_mode=True)
    assert check['changed'] and check['plan']['lb'] == 'the load balancer is exited'
    assert check['plan']['readmit'] == before[1:] and check['plan']['create'] == 1
    result = world.healer().run()
    assert result['outcome'] == 'healed'
    assert result['readmitted'] == before[1:] and result['removed'] == [before[0]]
    creates = [c for c in world.provider.calls if c[0] == 'create_lb']
    assert creates[-1][2] == tuple(before[1:] + result['created'])
    # The new load balancer's very first state already had every member serving.
    assert world.lb.capacity[0] == 3 and min(world.lb.capacity) >= 3
    assert _serving(world) == sorted(before[1:] + result['created'])
    again = world.healer().run()
    assert again['changed'] is False


def test_a_missing_load_balancer_is_created_from_the_given_image(world):
    world.provider.lb = None
    with pytest.raises(FleetError, match='no load balancer image'):
        world.healer().run()
    healer = heal.Healer(world.engine(), 30, True, lb_image=LB_IMAGE)
    result = healer.run()
    assert result['outcome'] == 'healed' and len(result['readmitted']) == 3 and not result['created']
    assert world.provider.lb.running and len(_serving(world)) == 3


def test_a_fully_stopped_fleet_is_brought_back_with_new_instances(world):
    before = names(world)
    for name in before:
        world.kill(name)
    world.provider.lb.state = 'exited'
    world.lb.capacity = []
    result = world.healer().run()
    assert result['outcome'] == 'healed' and sorted(result['removed']) == sorted(before)
    assert len(result['created']) == 3 and not result['readmitted']
    assert world.lb.capacity[0] == 3
    assert _serving(world) == sorted(result['created'])


def test_a_restarted_load_balancer_is_refilled_without_replacing_instances(world):
    before = names(world)
    world.lb.servers_.clear()  # HAProxy restarted: an empty backend
    result = world.healer().run()
    assert result['outcome'] == 'healed' and result['readmitted'] == before
    assert not result['created'] and not result['removed']
    assert _serving(world) == sorted(before)


# Revisions -----------------------------------------------------------------------------------------------------
def test_heal_uses_the_image_of_the_last_successful_revision_and_leaves_kept_instances_alone():
    world = HealWorld()
    world.deploy('sha256:v1')
    world.engine(make_spec(strategy='blue_green')).rollout(target('sha256:v2'), LB_IMAGE)
    kept = sorted(n for n, i in world.provider.items.items() if i.state == 'stopped')
    assert len(kept) == 3
    serving = world.running()
    world.kill(serving[0])
    result = world.healer().run()
    assert result['revision']['image_id'] == 'sha256:v2' and result['revision']['number'] == 2
    assert [r['name'] for r in result['replaced']] == [serving[0]]
    assert world.provider.items[result['created'][0]].image_id == 'sha256:v2'
    assert result['plan']['kept'] == kept
    assert all(world.provider.items[n].state == 'stopped' for n in kept)
    assert world.serving_versions() == ['1.1.0'] * 3


def test_after_an_automatic_rollback_heal_uses_the_revision_that_serves(world):
    with pytest.raises(FleetError):
        world.engine().rollout(target('sha256:bad'), LB_IMAGE)
    assert [e['outcome'] for e in world.provider.history] == ['succeeded', 'rolled_back']
    world.kill(world.running()[0])
    result = world.healer().run()
    assert result['revision']['image_id'] == 'sha256:v1'
    assert world.serving_versions() == ['1.0.0'] * 3


def test_spec_version_differing_from_the_fleet_is_a_warning(world):
    result = world.healer(spec=make_spec(version='1.1.0')).run()
    assert [w for w in result['warnings'] if 'heal keeps 1.0.0' in w]
    world.kill(names(world)[0])
    result = world.healer(spec=make_spec(version='1.1.0')).run()
    assert result['outcome'] == 'healed'
    assert len([w for w in result['warnings'] if 'heal keeps 1.0.0' in w]) == 1


# Pure parts ----------------------------------------------------------------------------------------------------
def inst(name, image='sha256:v1', state='running', revision=1):
    return Instance(name, name, 'web', revision, '1.0.0' if image == 'sha256:v1' else '1.1.0', image, 8080, state,
                    ('127.0.0.1', 1) if state == 'running' else None, ('10.0.0.1', 8080), '2026-01-01T00:00:00Z')


def server(admin='ready', weight=100, up=True):
    return {'admin': admin, 'weight': weight, 'up': up}


def test_plan_heal_sorts_every_kind_of_instance():
    instances = [inst('a'), inst('b'), inst('c', state='stopped'), inst('d'), inst('e'),
                 inst('old', image='sha256:v0', state='stopped'), inst('other', image='sha256:v2'),
                 inst('dead', image='sha256:v0', state='failed')]
    servers = {'a': server(), 'b': server(admin='drain'), 'c': server(up=False), 'd': server(weight=0),
               'e': server(up=False), 'other': server(), 'ghost': server(up=False)}
    verdicts = {'e': {'verdict': 'suspect', 'failing_for': 3, 'answer': 503}}
    plan = heal.plan_heal(instances, servers, 'sha256:v1', 4, verdicts)
    assert [(r['name'], r['reason']) for r in plan['replace']] == [
        ('b', 'out_of_service'), ('c', 'exited'), ('d', 'out_of_service'), ('dead', 'exited')]
    assert plan['replace'][0]['detail'] == 'drain in the load balancer'
    assert plan['replace'][2]['detail'] == 'weight 0 in the load balancer'
    assert plan['members'] == ['a', 'e', 'other']
    assert plan['suspects'] == [{'name': 'e', 'failing_for': 3, 'answer': 503}]
    assert plan['kept'] == ['old']
    assert [o['name'] for o in plan['other_image']] == ['other']
    assert plan['stray_servers'] == ['ghost']
    assert plan['create'] == 1 and plan['surplus'] == 0 and plan['changed'] is True


def test_plan_heal_forced_and_surplus():
    instances = [inst(n) for n in 'abcd']
    servers = dict((n, server()) for n in 'abcd')
    plan = heal.plan_heal(instances, servers, 'sha256:v1', 3, {}, force={'b': 'added /etc/x'})
    assert [(r['name'], r['reason'], r['detail']) for r in plan['replace']] == [('b', 'drifted', 'added /etc/x')]
    assert plan['create'] == 0 and plan['surplus'] == 0
    plan = heal.plan_heal(instances, servers, 'sha256:v1', 2, {})
    assert plan['changed'] is False and plan['surplus'] == 2


def test_plan_heal_unhealthy_verdict_and_not_in_lb():
    instances = [inst('a'), inst('b'), inst('c')]
    plan = heal.plan_heal(instances, {'a': server(up=False)}, 'sha256:v1', 2,
                          {'a': {'verdict': 'unhealthy', 'failing_for': 31.5, 'answer': 503},
                           'c': {'verdict': 'unhealthy', 'failing_for': 0, 'answer': 'refused'}})
    # b answers its check: the load balancer lost it, it goes back in; c does not: replaced.
    assert [(r['name'], r['reason']) for r in plan['replace']] == [('a', 'unhealthy'), ('c', 'out_of_service')]
    assert plan['replace'][1]['detail'] == 'not in the load balancer, failing its health check (last answer: refused)'
    assert plan['readmit'] == ['b'] and plan['members'] == ['b']
    assert plan['create'] == 1


def test_plan_heal_readmits_no_more_than_the_count_and_never_another_image():
    instances = [inst('a'), inst('b'), inst('c'), inst('d', image='sha256:v2')]
    plan = heal.plan_heal(instances, {}, 'sha256:v1', 2, {})
    assert plan['readmit'] == ['a', 'b']
    assert [(r['name'], r['reason']) for r in plan['replace']] == [('c', 'out_of_service'), ('d', 'out_of_service')]
    assert plan['create'] == 0 and plan['changed'] is True


def test_plan_heal_with_a_dead_load_balancer_ignores_its_servers():
    instances = [inst('a'), inst('b'), inst('c', state='stopped')]
    plan = heal.plan_heal(instances, {'a': server(), 'z': server()}, 'sha256:v1', 3, {},
                          lb='the load balancer is exited')
    assert plan['lb'] == 'the load balancer is exited'
    assert plan['readmit'] == ['a', 'b'] and plan['stray_servers'] == []
    assert [(r['name'], r['reason']) for r in plan['replace']] == [('c', 'exited')]
    assert plan['create'] == 1


def test_fleet_revision_takes_the_last_success_and_the_instances_revision():
    history = [{'number': 1, 'image_id': 'sha256:v1', 'version': '1.0.0', 'outcome': 'succeeded', 'image': 'web'},
               {'number': 2, 'image_id': 'sha256:v2', 'version': '1.1.0', 'outcome': 'rolled_back'},
               {'number': 3, 'image_id': 'sha256:v1', 'version': '1.0.0', 'outcome': 'succeeded', 'restores': 1}]
    revision = heal.fleet_revision('web', history, [inst('a', revision=1), inst('b', image='sha256:v2', revision=2)])
    assert (revision['id'], revision['version'], revision['revision'], revision['entry']) == ('sha256:v1', '1.0.0', 1, 3)
    assert heal.fleet_revision('web', history, [])['revision'] == 3
    with pytest.raises(FleetError, match='rollout.yml -e fleet=web'):
        heal.fleet_revision('web', history[1:2], [])


def test_unfinished_rollout():
    assert heal.unfinished_rollout([]) is None
    assert heal.unfinished_rollout([{'outcome': 'succeeded'}]) is None
    assert heal.unfinished_rollout([{'outcome': 'succeeded'}, {'outcome': 'in_progress', 'number': 2}])['number'] == 2

# -*- coding: utf-8 -*-
"""Fault drills on a fleet's load balancer (issue 10, item 5): it is an immutable part like any instance.

The fleet ``flb`` (3 instances behind 127.0.0.1:27110, tests/integration/faults/lb_fleets) is deployed, then its
load balancer is restarted, killed, or stopped with every instance (as after an engine restart). heal.yml (and a
rollout rerun) must bring it back with the instances it can keep, and a NEW load balancer must never answer a
5xx: it starts with its servers in its backend. Before the fix heal refused a dead load balancer, and the
rerun's new one answered 503 until its servers were added. A new ``lb_version`` rolls the load balancer itself
under the probe with no failed request (it was refused: "remove the fleet and deploy it again"). A run with
another image repository is told whose fleet it is (it showed the fleet and shared its lock marker).

Tests run in file order and share the fleet.
"""

import http.client
import os
import time

import pytest

from conftest import REPOSITORY, ROOT, Probe, bake_images, remove_fleet, run_playbook

FLEET = 'flb'
PORT = 27110
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'faults', 'lb_fleets', 'hosts.yml')
LABEL = 'io.immutable-infra.fleet=%s' % FLEET
BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'lb', 'version': '1.1.0'},
    {'image': 'web', 'version': '1.0.0'},
]


@pytest.fixture(scope='module', autouse=True)
def fleet(engine):
    remove_fleet(engine, FLEET)
    bake_images(BAKES)
    run = play('rollout.yml', version='1.0.0')
    assert run.rc == 0, run.output[-3000:]
    yield
    remove_fleet(engine, FLEET)


def play(playbook, **extra):
    return run_playbook(playbook, dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra),
                        inventory=INVENTORY)


def heal():
    run = play('heal.yml')
    assert run.rc == 0, run.output[-3000:]
    results = run.task_results('Heal fleet')
    assert results, run.output[-3000:]
    return results[0]


def instances(engine):
    """``{name: state}`` of the fleet's instances."""
    return {c.name: c.status for c in engine.containers.list(all=True, filters={'label': LABEL})
            if c.labels.get('io.immutable-infra.role') == 'instance'}


def running(engine):
    return sorted(n for n, state in instances(engine).items() if state == 'running')


def status_of(path='/version'):
    conn = http.client.HTTPConnection('127.0.0.1', PORT, timeout=3)
    try:
        conn.request('GET', path, headers={'Connection': 'close'})
        return conn.getresponse().status
    finally:
        conn.close()


def wait_answering(seconds=15):
    """The HTTP status the load balancer answers once it accepts connections again."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return status_of()
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def server_errors(probe):
    return dict((k, v) for k, v in probe.errors.items() if k.startswith('HTTP 5'))


def assert_serves(seconds=3):
    with Probe(PORT, max_seconds=seconds + 5) as probe:
        time.sleep(seconds)
    assert probe.requests > 20 and probe.failures == 0, probe


def test_a_restarted_load_balancer_is_refilled_with_the_same_instances(engine):
    before = running(engine)
    assert len(before) == 3
    engine.containers.get('%s-lb' % FLEET).restart(timeout=1)
    # Created at the first deploy, with no server to start with: the restarted HAProxy has an empty backend.
    assert wait_answering() == 503
    result = heal()
    assert result['outcome'] == 'healed', result
    assert sorted(result['readmitted']) == before and not result['created'] and not result['removed']
    assert_serves()
    assert running(engine) == before


def test_a_killed_load_balancer_is_replaced_and_the_new_one_never_answers_5xx(engine):
    before = running(engine)
    engine.containers.get('%s-lb' % FLEET).kill()
    with Probe(PORT, timeout=3, max_seconds=60) as probe:
        result = heal()
        time.sleep(1)
    assert result['outcome'] == 'healed' and result['plan']['lb'] == 'the load balancer is exited', result
    assert sorted(result['readmitted']) == before and not result['created']
    # Refused while there is no load balancer; from the new one's first answer on, no 5xx.
    assert not server_errors(probe), probe
    assert probe.versions.get('1.0.0', 0) > 0, probe
    assert_serves()
    assert running(engine) == before


def test_a_rollout_rerun_after_the_load_balancer_died_never_answers_5xx(engine):
    before = running(engine)
    engine.containers.get('%s-lb' % FLEET).kill()
    with Probe(PORT, timeout=3, max_seconds=60) as probe:
        run = play('rollout.yml', version='1.0.0')
        time.sleep(1)
    assert run.rc == 0, run.output[-3000:]
    assert not server_errors(probe), probe
    assert probe.versions.get('1.0.0', 0) > 0, probe
    assert_serves()
    assert running(engine) == before


def test_a_fully_stopped_fleet_is_brought_back_by_heal(engine):
    before = running(engine)
    for container in engine.containers.list(filters={'label': LABEL}):
        container.stop(timeout=1)
    assert not running(engine)
    with Probe(PORT, timeout=3, max_seconds=90) as probe:
        result = heal()
        time.sleep(1)
    assert result['outcome'] == 'healed', result
    # Stopped instances are replaced by new ones (never restarted); the new load balancer starts with them.
    assert sorted(result['removed']) == before and len(result['created']) == 3
    assert not server_errors(probe), probe
    assert_serves()
    assert running(engine) == sorted(result['created'])
    assert heal()['changed'] is False


def lb_container(engine):
    return engine.containers.get('%s-lb' % FLEET)


def test_a_new_lb_version_rolls_the_load_balancer_under_load_with_no_failed_request(engine):
    before = running(engine)
    old = lb_container(engine)
    holder = engine.containers.get('%s-lb-holder' % FLEET)
    with Probe(PORT, max_seconds=120) as probe:
        run = play('rollout.yml', version='1.0.0', lb_version='1.1.0')
        time.sleep(1)
    assert run.rc == 0, run.output[-3000:]
    result = run.task_results('Roll out fleet')[0]
    assert result['plan']['lb'] == 'roll', result['plan']
    assert probe.failures == 0 and probe.requests > 50, probe
    new = lb_container(engine)
    assert new.id != old.id and new.labels['io.immutable-infra.version'] == '1.1.0'
    assert engine.containers.get('%s-lb-holder' % FLEET).id == holder.id  # the published port never moved
    assert running(engine) == before
    again = play('rollout.yml', version='1.0.0', lb_version='1.1.0')
    assert again.rc == 0 and again.task_results('Roll out fleet')[0]['changed'] is False, again.output[-3000:]


def test_a_new_health_path_rolls_the_load_balancer_whose_checks_then_follow_it(engine):
    """The load balancer checks the fleet's own health.path (here /version, which the web image also answers)."""
    before = running(engine)
    with Probe(PORT, max_seconds=120) as probe:
        run = play('rollout.yml', version='1.0.0', lb_version='1.1.0', health_path='/version')
        time.sleep(1)
    assert run.rc == 0, run.output[-3000:]
    assert run.task_results('Roll out fleet')[0]['plan']['lb'] == 'roll'
    assert probe.failures == 0, probe
    assert lb_container(engine).labels['io.immutable-infra.lb-health'] == '200 /version'
    time.sleep(2)
    logs = engine.containers.get(before[0]).logs(tail=20).decode()
    assert '"GET /version HTTP/1.0"' in logs, logs  # HAProxy's check (HTTP/1.0; the probe speaks HTTP/1.1)
    assert running(engine) == before


def test_another_repository_is_told_whose_fleet_this_is(engine):
    for playbook in ('status.yml', 'heal.yml'):
        run = run_playbook(playbook, {'fleet': FLEET, 'image_repository': REPOSITORY + '-other'},
                           inventory=INVENTORY)
        assert run.rc != 0 and 'belongs to the image repository %s' % REPOSITORY in run.output, run.output[-3000:]
    assert not engine.images.list(name='%s-other/fleet-lock' % REPOSITORY)

# -*- coding: utf-8 -*-
"""Fault drills on what a fleet's history says against what serves (issue 10, items 3 and 6).

- ``fhist`` (3 instances, 127.0.0.1:27111): its load balancer is killed in the middle of a rolling rollout; the
  rollback replaces it and brings 1.0.0 back, a rerun then rolls 1.1.0 out, and heal, drift and rollback.yml all
  agree with what serves. A history entry that says ``failed`` while its revision serves (what a rollout cut
  short after its last step leaves) makes heal and drift stop and name the rollout that fixes it; that rerun
  records the revision, and nothing is ever downgraded.
- ``fmon`` (1 instance, ``monitor: 3``, 127.0.0.1:27112): the new instance starts answering its health check with
  500 1.5 s after it joined the load balancer, well before HAProxy's 3 failed checks: the monitor window sees it
  and the rollout is rolled back.
"""

import base64
import contextlib
import json
import os
import threading
import time

import pytest

from conftest import REPOSITORY, ROOT, Probe, bake_images, remove_fleet, run_playbook

from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider

INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'faults', 'lb_fleets', 'hosts.yml')
FLEETS = {'fhist': 27111, 'fmon': 27112}
BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.1.0'},
]


def label(fleet):
    return 'io.immutable-infra.fleet=%s' % fleet


def remove_fleets(engine):
    for fleet in FLEETS:
        remove_fleet(engine, fleet)


@pytest.fixture(scope='module', autouse=True)
def images(engine):
    remove_fleets(engine)
    bake_images(BAKES)
    yield
    remove_fleets(engine)


def play(playbook, fleet, **extra):
    return run_playbook(playbook, dict({'fleet': fleet, 'image_repository': REPOSITORY}, **extra),
                        inventory=INVENTORY)


def result_of(run, task):
    results = run.task_results(task)
    assert results, run.output[-3000:]
    return results[0]


def instances(engine, fleet, state='running'):
    """``[(name, version)]`` of the fleet's instances in ``state``."""
    # Summaries only (one API call): a rollout running meanwhile may remove a container between a list and an
    # inspect.
    return sorted((c['Names'][0].lstrip('/'), c['Labels'].get('io.immutable-infra.version'))
                  for c in engine.api.containers(all=True, filters={'label': label(fleet)})
                  if c['Labels'].get('io.immutable-infra.role') == 'instance' and c['State'] == state)


def history(engine, fleet):
    """The fleet's revision history, oldest first, read from its record image."""
    found = engine.images.list(filters={'label': 'io.immutable-infra.history-of=%s' % fleet})
    assert len(found) == 1, found
    return json.loads(base64.b64decode(found[0].labels['io.immutable-infra.history']))


@contextlib.contextmanager
def in_background(func):
    """Run ``func`` on a thread; the thread is joined on the way out even when the test fails, so no rollout
    outlives its test (and the module's cleanup)."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(run=func()), daemon=True)
    thread.start()
    try:
        yield box
    finally:
        thread.join(300)


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, 'timed out waiting for %s' % what
        time.sleep(0.1)


def test_the_lb_killed_mid_rollout_is_replaced_by_the_rollback_and_a_rerun_converges(engine):
    fleet, port = 'fhist', FLEETS['fhist']
    assert play('rollout.yml', fleet, version='1.0.0').rc == 0
    with in_background(lambda: play('rollout.yml', fleet, version='1.1.0')) as box:
        wait_for(lambda: any(v == '1.1.0' for n, v in instances(engine, fleet)), 60, 'a 1.1.0 instance')
        time.sleep(2)  # gated and admitted: the rollout is between its batches
        engine.containers.get('%s-lb' % fleet).kill()
    run = box['run']
    assert run.rc != 0 and result_of(run, 'Roll out fleet')['outcome'] == 'rolled_back', run.output[-3000:]
    assert [v for n, v in instances(engine, fleet)] == ['1.0.0'] * 3
    assert [e['outcome'] for e in history(engine, fleet)][-2:] == ['succeeded', 'rolled_back']

    with Probe(port, max_seconds=120) as probe:
        rerun = play('rollout.yml', fleet, version='1.1.0')
    assert rerun.rc == 0, rerun.output[-3000:]
    assert probe.failures == 0 and probe.last_version == '1.1.0', probe
    entry = history(engine, fleet)[-1]
    assert (entry['version'], entry['outcome']) == ('1.1.0', 'succeeded')
    healed = result_of(play('heal.yml', fleet), 'Heal fleet')
    assert healed['changed'] is False and not healed['created'], healed
    drift = play('drift.yml', fleet)
    assert drift.rc == 0, drift.output[-3000:]
    assert '0 of 3 running instance(s) drifted' in drift.output, drift.output[-3000:]
    assert [v for n, v in instances(engine, fleet)] == ['1.1.0'] * 3


def test_history_that_says_failed_while_its_revision_serves_stops_heal_and_drift(engine):
    fleet, port = 'fhist', FLEETS['fhist']
    provider = DockerProvider(engine, REPOSITORY)
    entries = provider.read_history(fleet)
    entries[-1].update(outcome='failed', reason='drill: cut short after its last step')
    provider.write_history(fleet, entries)
    serving = instances(engine, fleet)
    engine.containers.get(serving[0][0]).kill()

    for playbook, extra in (('heal.yml', {}), ('drift.yml', {'remediate': 'replace'})):
        run = play(playbook, fleet, **extra)
        assert run.rc != 0 and 'history disagrees' in run.output, run.output[-3000:]
        assert '-e version=1.1.0' in run.output
    assert instances(engine, fleet) == serving[1:]  # nothing created, nothing downgraded

    with Probe(port, max_seconds=120) as probe:
        rerun = play('rollout.yml', fleet, version='1.1.0')
    assert rerun.rc == 0, rerun.output[-3000:]
    assert probe.failures == 0, probe
    entry = history(engine, fleet)[-1]
    assert (entry['version'], entry['outcome'], entry.get('converged')) == ('1.1.0', 'succeeded', 1)
    assert [v for n, v in instances(engine, fleet)] == ['1.1.0'] * 3
    with Probe(port, max_seconds=120) as probe:
        back = play('rollback.yml', fleet)
    assert back.rc == 0, back.output[-3000:]
    assert probe.failures == 0 and probe.last_version == '1.0.0', probe


def test_an_instance_that_fails_1_5_s_into_its_3_s_window_rolls_the_rollout_back(engine):
    fleet = 'fmon'
    assert play('rollout.yml', fleet, version='1.0.0').rc == 0
    with in_background(lambda: play('rollout.yml', fleet, version='1.1.0')) as box:
        wait_for(lambda: [v for n, v in instances(engine, fleet)] == ['1.1.0'], 60, 'the 1.0.0 instance retired')
        # The old instance is retired once the new one is in the load balancer: its window has just started.
        name = instances(engine, fleet)[0][0]
        time.sleep(1.5)
        broken = engine.containers.get(name).exec_run(
            ['sh', '-c', 'sed -i \'s/return 200 "ok";/return 500 "broken";/\' /etc/nginx/nginx.conf && '
             'nginx -s reload'])
        assert broken.exit_code == 0, broken.output
    run = box['run']
    assert run.rc != 0, run.output[-3000:]
    result = result_of(run, 'Roll out fleet')
    assert result['outcome'] == 'rolled_back', result
    assert 'answered GET /healthz with 500' in run.output
    assert [v for n, v in instances(engine, fleet)] == ['1.0.0']
    assert history(engine, fleet)[-1]['outcome'] == 'rolled_back'

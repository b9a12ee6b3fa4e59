# -*- coding: utf-8 -*-
"""Fault: prune.yml removes an image a fleet still needs (issue 10, item 2).

``prune.yml keep=1`` used to delete the version a fleet rolls from once its last container was gone: the
automatic rollback of that rollout then failed ("No such image") and ``rollback.yml`` after a completed rolling
rollout had nothing to roll back to. An image named by a fleet's revision history (a succeeded entry) or needed
by a fleet whose lock is held is in use: prune keeps it and says why.

The fleet ``fprune`` (3 instances behind 127.0.0.1:18380, tests/integration/faults/prune_fleets) runs web 1.0.0
and 1.1.0 and lb 1.0.0, baked into the session's test repository (conftest.REPOSITORY; set
IMMUTABLE_ITEST_REPOSITORY to run beside other runs on one engine). Tests run in file order and share the fleet;
the last one removes it.
"""

import base64
import http.client
import json
import os
import signal
import subprocess
import time

import docker
import pytest

from conftest import BIN, REPOSITORY, ROOT, Probe, bake_images, remove_fleet, run_playbook

FLEET = 'fprune'
LB_PORT = 18380
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'faults', 'prune_fleets', 'hosts.yml')
FLEET_LABEL = 'io.immutable-infra.fleet=%s' % FLEET
HISTORY_LABEL = 'io.immutable-infra.history-of=%s' % FLEET
BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.1.0'},
]
# Long enough for a prune (an ansible-playbook run, slow on a busy machine) and a fault to happen inside the
# last window of a rollout; the fault ends the window early, so the length costs nothing.
LONG_MONITOR = 60


@pytest.fixture(scope='module', autouse=True)
def images(engine):
    """The fleet's images (cache hits when another test file baked them already), by version."""
    remove_fleet(engine, FLEET)
    bake_images(BAKES)
    yield dict((version, image_id(engine, version)) for version in ('1.0.0', '1.1.0'))
    remove_fleet(engine, FLEET)


def image_id(engine, version):
    try:
        return engine.images.get('%s/web:%s' % (REPOSITORY, version)).id
    except docker.errors.ImageNotFound:
        return None


def rollout(playbook='rollout.yml', check=False, **extra):
    return run_playbook(playbook, dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra), check=check,
                        inventory=INVENTORY)


def prune(check=False, **extra):
    run = run_playbook('prune.yml', dict({'image': 'web', 'keep': 1, 'image_repository': REPOSITORY}, **extra),
                       check=check)
    assert run.rc == 0, run.output[-3000:]
    [result] = run.task_results('Prune the images')
    return result


def kept_reasons(result):
    return dict((record['version'], record['reasons']) for record in result['kept'])


def start_rollout(**extra):
    """ansible-playbook rollout.yml in the background, in its own process group."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', INVENTORY, os.path.join('playbooks', 'rollout.yml')]
    for key, value in dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra).items():
        cmd += ['-e', json.dumps({key: value})]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail('timed out waiting for %s' % what)


def containers(engine):
    """``{name: (role, state, version, image id)}`` of every container of the fleet."""
    found = {}
    # Summaries only (one API call): the rollout running meanwhile may remove a container between a list and an
    # inspect.
    for container in engine.api.containers(all=True, filters={'label': FLEET_LABEL}):
        labels = container['Labels']
        found[container['Names'][0].lstrip('/')] = (
            labels.get('io.immutable-infra.role'), container['State'], labels.get('io.immutable-infra.version'),
            labels.get('io.immutable-infra.image-id'))
    return found


def running_versions(engine):
    return sorted(v for role, state, v, i in containers(engine).values() if role == 'instance' and state == 'running')


def users_of(engine, image):
    return [c['Names'] for c in engine.api.containers(all=True) if c.get('ImageID') == image]


def lock_held(engine):
    try:
        engine.containers.get('%s-lock' % FLEET)
        return True
    except docker.errors.NotFound:
        return False


def history(engine):
    """The fleet's revision history, newest first."""
    [record] = engine.images.list(filters={'label': HISTORY_LABEL})
    return list(reversed(json.loads(base64.b64decode(record.labels['io.immutable-infra.history']))))


def lb_version():
    conn = http.client.HTTPConnection('127.0.0.1', LB_PORT, timeout=5)
    try:
        conn.request('GET', '/version')
        return json.loads(conn.getresponse().read())['version']
    finally:
        conn.close()


def failure_message(output):
    """What a failed ansible-playbook run (default callback) said, from its first fatal line."""
    return output[output.find('fatal:'):][:3000] if 'fatal:' in output else output[-3000:]


def assert_converged(engine, version):
    found = containers(engine)
    assert running_versions(engine) == [version] * 3, found
    assert '%s-lock' % FLEET not in found, found
    assert lb_version() == version


def test_prune_during_a_rollout_keeps_the_version_it_rolls_from_and_the_rollback_works(engine, images):
    run = rollout(version='1.0.0')
    assert run.rc == 0, run.output[-3000:]
    assert_converged(engine, '1.0.0')

    background = start_rollout(version='1.1.0', monitor=LONG_MONITOR)
    try:
        # The last 1.0.0 instance is gone, the rollout still holds the lock (its last monitor window runs).
        wait_for(lambda: running_versions(engine) == ['1.1.0'] * 3 and not users_of(engine, images['1.0.0']), 120,
                 'the rollout to retire every 1.0.0 instance')
        assert lock_held(engine)
        started = time.monotonic()
        result = prune()
        took = time.monotonic() - started
        held = lock_held(engine)
        # A fault inside the window: the rollout rolls back to 1.0.0, which needs the image prune kept.
        victim = [name for name, (role, state, v, i) in containers(engine).items()
                  if role == 'instance' and v == '1.1.0'][0]
        engine.containers.get(victim).kill()
        output = background.communicate(timeout=180)[0].decode()
    finally:
        if background.poll() is None:
            os.killpg(background.pid, signal.SIGKILL)
    assert held, 'the rollout released its lock before the prune (%.1f s) ended: raise LONG_MONITOR' % took
    assert background.returncode != 0, output[-3000:]
    assert 'Rolled back: the fleet serves revision 1 (1.0.0) again' in output, failure_message(output)
    assert 'No such image' not in output
    assert_converged(engine, '1.0.0')
    assert 'fleet %s is being rolled out (lock held)' % FLEET in kept_reasons(result).get('1.0.0', []), result
    assert image_id(engine, '1.0.0') == images['1.0.0']
    assert [(e['version'], e['outcome']) for e in history(engine)] == [('1.1.0', 'rolled_back'), ('1.0.0', 'succeeded')]


def test_prune_after_a_rolling_rollout_keeps_the_rollback_target_and_rollback_works(engine, images):
    with Probe(LB_PORT) as probe:
        run = rollout(version='1.1.0')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0, probe
    assert_converged(engine, '1.1.0')
    assert not users_of(engine, images['1.0.0'])

    check = prune(check=True)
    real = prune()
    assert real['removed'] == check['removed'] == []
    reasons = kept_reasons(real)
    assert reasons['1.0.0'] == ['rollback target of fleet %s revision 1' % FLEET], real
    assert 'current image of fleet %s revision 3' % FLEET in reasons['1.1.0'], real
    assert image_id(engine, '1.0.0') == images['1.0.0']

    with Probe(LB_PORT) as probe:
        back = rollout('rollback.yml')
    assert back.rc == 0, back.output[-3000:]
    assert probe.failures == 0, probe
    assert probe.last_version == '1.0.0'
    assert_converged(engine, '1.0.0')
    entry = history(engine)[0]
    assert (entry['version'], entry['outcome'], entry['restores']) == ('1.0.0', 'succeeded', 1)


def test_state_absent_removes_the_fleet(engine):
    run = rollout(state='absent')
    assert run.rc == 0, run.output[-3000:]
    assert containers(engine) == {}
    assert not engine.networks.list(names=['%s-net' % FLEET])
    assert not engine.images.list(filters={'label': HISTORY_LABEL})

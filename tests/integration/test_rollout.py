# -*- coding: utf-8 -*-
"""Fleet rollouts for real: the test fleet ``itweb`` (3 instances behind 127.0.0.1:18080) moved between image
versions by playbooks/rollout.yml and rollback.yml while a probe sends requests to its load balancer.

Tests run in file order and share the fleet; each starts from the state the previous one left (a rollout to
the version already running is a no-op). Images are baked into the session's test repository (conftest.REPOSITORY) by bake.yml
(a repository of this module's own, so integration runs of other modules never remove them mid-run): web
1.0.0 and 1.1.0, lb 1.0.0, and two faulty web images - 9.0.1 answers GET /healthz with 503 (its health
gate fails), 9.0.2 answers / and /version with 500 (a bad canary). The fleet is declared in
tests/integration/fleets (an inventory of its own).
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

from conftest import BIN, REPOSITORY, ROOT, Probe, remove_fleet, run_playbook

FLEET = 'itweb'
LB_PORT = 18080
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'fleets', 'hosts.yml')
FLEET_LABEL = 'io.immutable-infra.fleet=%s' % FLEET

BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.1.0'},
    {'image': 'web', 'version': '9.0.1', 'bake_vars': {'webapp_healthz_status': 503}},
    {'image': 'web', 'version': '9.0.2', 'bake_vars': {'webapp_root_status': 500}},
]
# The faulty images fail their image tests by design, so bake.yml tags them failed-<version>: a fleet rolls
# them out only with require_verified=false (a deliberate fault-injection drill).
FAULTY = {'require_verified': False}


@pytest.fixture(scope='module', autouse=True)
def clean_fleet(engine):
    remove_fleet(engine, FLEET)
    yield
    remove_fleet(engine, FLEET)


@pytest.fixture(scope='module', autouse=True)
def images(engine, clean_fleet):
    """Bake the test images into the session's repository (a cache hit when another test file baked them
    already; a faulty one is baked once); conftest removes them at the end of the session."""
    yield _bake_all(engine)
    remove_fleet(engine, FLEET)


def _bake_all(engine):
    for bake in BAKES:
        if 'bake_vars' in bake:
            failed = '%s/%s:failed-%s' % (REPOSITORY, bake['image'], bake['version'])
            if not engine.images.list(name=failed):
                run_playbook('bake.yml', dict(bake, image_repository=REPOSITORY))
            assert engine.images.list(name=failed), 'bake of %s did not leave %s' % (bake, failed)
            continue
        run = run_playbook('bake.yml', dict(bake, image_repository=REPOSITORY))
        assert run.rc == 0, 'bake of %s failed:\n%s' % (bake, run.output[-3000:])


def rollout(playbook='rollout.yml', check=False, **extra):
    return run_playbook(playbook, dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra), check=check,
                        inventory=INVENTORY)


def module_result(run):
    results = run.task_results('Roll out fleet') + run.task_results('Roll back fleet')
    assert results, run.output[-3000:]
    return results[0]


def containers(engine):
    """``{name: (role, state, version)}`` of every container of the test fleet."""
    found = {}
    for container in engine.containers.list(all=True, filters={'label': FLEET_LABEL}):
        labels = container.labels
        found[container.name] = (labels.get('io.immutable-infra.role'), container.status,
                                 labels.get('io.immutable-infra.version'))
    return found


def running_instances(engine):
    return sorted((name, version) for name, (role, state, version) in containers(engine).items()
                  if role == 'instance' and state == 'running')


def lb_version():
    conn = http.client.HTTPConnection('127.0.0.1', LB_PORT, timeout=5)
    try:
        conn.request('GET', '/version')
        return json.loads(conn.getresponse().read())['version']
    finally:
        conn.close()


def ensure(version, **extra):
    """The fleet at ``version`` (a rollout when it is not there yet)."""
    try:
        if lb_version() == version and sorted(v for n, v in running_instances(docker.from_env())) == [version] * 3:
            return
    except (OSError, http.client.HTTPException, ValueError, KeyError):
        pass
    run = rollout(version=version, **extra)
    assert run.rc == 0, run.output[-3000:]
    assert lb_version() == version


def assert_converged(engine, version, count=3):
    """Exactly ``count`` running instances of ``version`` plus the load balancer; no lock, nothing else running."""
    found = containers(engine)
    running = [(n, v) for n, (role, state, v) in found.items() if role == 'instance' and state == 'running']
    assert sorted(v for n, v in running) == [version] * count, found
    assert [n for n, (role, state, v) in found.items() if role == 'lb'] == ['%s-lb' % FLEET], found
    assert '%s-lock' % FLEET not in found
    assert not [n for n, (role, state, v) in found.items() if role not in ('instance', 'lb', 'lb-holder')], found
    assert not [n for n, (role, state, v) in found.items() if role == 'instance' and state not in ('running', 'exited')]


def history(engine):
    """The fleet's revision history, newest first, read from its record image."""
    found = engine.images.list(filters={'label': 'io.immutable-infra.history-of=%s' % FLEET})
    assert len(found) == 1, found
    labels = found[0].labels
    return list(reversed(json.loads(base64.b64decode(labels['io.immutable-infra.history']))))


# First deploy, idempotence, check mode ---------------------------------------------------------------------
def test_first_deploy_brings_the_fleet_up_and_a_rerun_changes_nothing(engine):
    plan = rollout(check=True, version='1.0.0')
    assert plan.rc == 0, plan.output[-3000:]
    assert module_result(plan)['plan']['create'] == 3 and module_result(plan)['plan']['lb'] == 'create'
    assert containers(engine) == {}

    run = rollout(version='1.0.0')
    assert run.rc == 0, run.output[-3000:]
    assert module_result(run)['changed'] is True
    assert_converged(engine, '1.0.0')
    assert lb_version() == '1.0.0'

    again = rollout(version='1.0.0')
    assert again.rc == 0 and module_result(again)['changed'] is False, again.output[-3000:]
    check = rollout(check=True, version='1.0.0')
    assert check.rc == 0 and module_result(check)['changed'] is False

    status = run_playbook('status.yml', {'fleet': FLEET, 'image_repository': REPOSITORY}, inventory=INVENTORY)
    assert status.rc == 0, status.output[-3000:]
    table = status.task_results('Show the fleets')[0]['msg']
    assert 'INSTANCE' in table and 'HEALTH' in table
    for name, version in running_instances(engine):
        assert name in table
    assert table.count('healthy') == 3 and 'ready up w100' in table


def test_check_mode_shows_the_plan_and_changes_nothing(engine):
    before = containers(engine)
    run = rollout(check=True, version='1.1.0', max_surge=2)
    assert run.rc == 0, run.output[-3000:]
    result = module_result(run)
    assert result['changed'] is True and result['outcome'] == 'planned'
    assert result['plan']['create'] == 3
    assert sorted(result['plan']['retire']) == sorted(n for n, v in running_instances(engine))
    assert [s['create'] for s in result['plan']['steps']] == [2, 1]
    assert containers(engine) == before


# Strategies under load ----------------------------------------------------------------------------------
def test_rolling_rollout_fails_no_request(engine):
    ensure('1.0.0')
    with Probe(LB_PORT) as probe:
        run = rollout(version='1.1.0')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0, probe
    assert probe.versions['1.0.0'] and probe.versions['1.1.0'], probe
    assert probe.last_version == '1.1.0' and lb_version() == '1.1.0'
    assert_converged(engine, '1.1.0')
    entry = history(engine)[0]
    assert (entry['version'], entry['strategy'], entry['outcome']) == ('1.1.0', 'rolling', 'succeeded')


def test_blue_green_rollout_fails_no_request_and_keeps_the_old_set_stopped(engine):
    ensure('1.1.0')
    with Probe(LB_PORT) as probe:
        run = rollout(version='1.0.0', strategy='blue_green')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0, probe
    assert probe.last_version == '1.0.0' and lb_version() == '1.0.0'
    assert_converged(engine, '1.0.0')
    stopped = [v for n, (role, state, v) in containers(engine).items() if role == 'instance' and state == 'exited']
    assert stopped == ['1.1.0'] * 3


def test_rollback_playbook_restores_the_previous_version_without_a_failed_request(engine):
    # After the blue/green test the fleet runs 1.0.0 and keeps the 1.1.0 set stopped: an instant rollback.
    kept = sorted(n for n, (role, state, v) in containers(engine).items() if state == 'exited')
    with Probe(LB_PORT) as probe:
        run = rollout('rollback.yml')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0, probe
    assert lb_version() == '1.1.0'
    assert_converged(engine, '1.1.0')
    assert sorted(n for n, v in running_instances(engine)) == kept
    result = module_result(run)
    assert result['strategy'] == 'blue_green' and result['plan']['reuse']
    entry = history(engine)[0]
    assert entry['version'] == '1.1.0' and entry['outcome'] == 'succeeded' and entry['restores']


def test_canary_rollout_fails_no_request(engine):
    ensure('1.1.0')
    with Probe(LB_PORT) as probe:
        run = rollout(version='1.0.0', strategy='canary')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0, probe
    result = module_result(run)
    assert result['analysis']['passed'] and result['analysis']['canary']['requests'] > 0, result['analysis']
    assert lb_version() == '1.0.0'
    assert_converged(engine, '1.0.0')


# Failures roll back -------------------------------------------------------------------------------------
def test_failing_health_check_rolls_back_with_old_instances_intact(engine):
    ensure('1.0.0')
    old = running_instances(engine)
    with Probe(LB_PORT) as probe:
        run = rollout(version='9.0.1', **FAULTY)
    assert run.rc != 0
    result = module_result(run)
    assert result['outcome'] == 'rolled_back', run.output[-3000:]
    assert 'health gate' in result['msg'] and 'Rolled back' in result['msg']
    assert probe.failures == 0, probe
    assert running_instances(engine) == old
    assert_converged(engine, '1.0.0')
    entry = history(engine)[0]
    assert (entry['version'], entry['outcome']) == ('9.0.1', 'rolled_back')


def test_canary_answering_5xx_is_rolled_back_by_the_analysis(engine):
    ensure('1.0.0')
    old = running_instances(engine)
    with Probe(LB_PORT) as probe:
        run = rollout(version='9.0.2', strategy='canary', **FAULTY)
    assert run.rc != 0
    result = module_result(run)
    assert result['outcome'] == 'rolled_back', run.output[-3000:]
    assert not result['analysis']['passed'] and '5xx ratio' in result['analysis']['reasons'][0]
    assert result['analysis']['canary']['errors'] > 0
    # Only the canary's share of the traffic saw the 5xx, and only while it was analysed.
    assert 0 < probe.failures < probe.requests * 0.5, probe
    assert set(probe.errors) == {'HTTP 500'}, probe
    assert running_instances(engine) == old
    assert_converged(engine, '1.0.0')


# Lock and interruption ----------------------------------------------------------------------------------
def start_playbook(**extra):
    """ansible-playbook rollout.yml in its own process group, output to a file."""
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


def process_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] not in ('Z', 'X')
    except OSError:
        return False


def lock_holder(engine):
    try:
        return engine.containers.get('%s-lock' % FLEET).labels
    except docker.errors.NotFound:
        return None


def test_concurrent_rollout_fails_on_the_lock_and_changes_nothing(engine):
    ensure('1.0.0')
    entries = len(history(engine))
    first = start_playbook(version='1.1.0')
    try:
        wait_for(lambda: lock_holder(engine) is not None, 60, 'the first rollout to take the lock')
        second = rollout(version='9.0.1', **FAULTY)
        assert second.rc != 0
        result = module_result(second)
        assert result['changed'] is False
        assert 'is locked by rollout of %s to 1.1.0' % FLEET in result['msg'], result['msg']
        assert 'pid %s' % lock_holder(engine)['io.immutable-infra.lock.pid'] in result['msg']
        output = first.communicate(timeout=180)[0].decode()
        assert first.returncode == 0, output[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert_converged(engine, '1.1.0')
    after = history(engine)
    assert len(after) == entries + 1 and after[0]['version'] == '1.1.0' and after[0]['outcome'] == 'succeeded'


def test_killed_controller_then_rerun_converges_without_orphans(engine):
    ensure('1.1.0')
    with Probe(LB_PORT) as probe:
        run = start_playbook(version='1.0.0')
        try:
            # Kill once the rollout is under way: a new instance exists and the first old one is on its way out.
            wait_for(lambda: len([v for n, v in running_instances(engine) if v == '1.0.0']) >= 1, 60,
                     'a new instance')
            time.sleep(1.5)
            holder = lock_holder(engine)
            os.killpg(run.pid, signal.SIGKILL)
            # ansible-playbook runs each task in a worker that starts a session of its own: the whole controller
            # dying also takes the worker and its module process, the lock holder.
            if holder:
                pid = int(holder['io.immutable-infra.lock.pid'])
                try:
                    os.killpg(os.getpgid(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_for(lambda: not process_alive(pid), 20, 'the module process to die')
            run.wait(timeout=30)
        finally:
            if run.poll() is None:
                os.killpg(run.pid, signal.SIGKILL)
        assert lock_holder(engine) is not None, 'the rollout finished before it could be interrupted'
        assert history(engine)[0]['outcome'] == 'in_progress'

        rerun = rollout(version='1.0.0')
    assert rerun.rc == 0, rerun.output[-3000:]
    result = module_result(rerun)
    assert result['plan']['history'] == 'resume'
    assert any('broke the lock' in e['event'] for e in result['events']), result['events']
    assert_converged(engine, '1.0.0')
    assert not [n for n, (role, state, v) in containers(engine).items() if state != 'running']
    assert probe.failures == 0, probe
    assert history(engine)[0]['outcome'] == 'succeeded'


# Bad input fails before anything changes -------------------------------------------------------------------
@pytest.mark.parametrize('extra, words', [
    ({'fleet': 'nosuchfleet'}, 'Declared fleets'),
    ({'version': '7.7.7'}, 'no image %s/web:7.7.7' % REPOSITORY),
    ({'channel': 'nosuchchannel'}, 'channel nosuchchannel of web does not exist'),
    ({'max_surge': 0, 'max_unavailable': 0}, 'both come to 0'),
    ({'strategy': 'big_bang'}, 'strategy'),
])
def test_bad_input_fails_clearly_and_changes_nothing(engine, extra, words):
    before = containers(engine)
    run = rollout(**extra)
    assert run.rc != 0
    assert words in run.output, run.output[-3000:]
    assert containers(engine) == before


def test_state_absent_removes_the_fleet(engine):
    assert containers(engine)
    check = rollout(check=True, state='absent')
    assert check.rc == 0 and module_result(check)['outcome'] == 'planned', check.output[-3000:]
    assert containers(engine)
    run = rollout(state='absent')
    assert run.rc == 0, run.output[-3000:]
    assert module_result(run)['outcome'] == 'removed'
    assert containers(engine) == {}
    assert not engine.networks.list(names=['%s-net' % FLEET])
    assert not engine.images.list(filters={'label': 'io.immutable-infra.history-of=%s' % FLEET})
    again = rollout(state='absent')
    assert again.rc == 0 and module_result(again)['changed'] is False

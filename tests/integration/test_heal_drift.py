# -*- coding: utf-8 -*-
"""Heal, drift and the fleet inventory for real: the test fleet ``ithealweb`` (3 instances behind 127.0.0.1:18180)
while a probe sends requests to its load balancer.

Tests run in file order and share the fleet. Images are baked into the session's test repository (shared with
the other test files, so they are usually cache hits): base, then web 1.0.0 and lb 1.0.0 side by side.
The fleet is declared in tests/integration/heal_fleets (an inventory of its own). Only the tests write into an
instance (``docker exec``, to play a human who changed a server by hand); heal and drift never do.
"""

import json
import os
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import BIN, REPOSITORY, ROOT, Probe, remove_fleet, run_playbook

# A request that HAProxy first sends to an instance cut off its network waits for the connect timeout (1 s,
# haproxy_timeout_connect) before it is redispatched to another instance: the probe allows 5 s per request.
PROBE_TIMEOUT = 5

from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider
from ansible_collections.immutable.infra.plugins.module_utils.rollout import process_start

FLEET = 'ithealweb'
LB_PORT = 18180
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'heal_fleets', 'hosts.yml')
FLEET_LABEL = 'io.immutable-infra.fleet=%s' % FLEET
BASE = {'image': 'base', 'version': '1.0.0'}
BAKES = [{'image': 'web', 'version': '1.0.0'}, {'image': 'lb', 'version': '1.0.0'}]


# Set-up and clean-up ------------------------------------------------------------------------------------------
def bake(extra):
    return run_playbook('bake.yml', dict(extra, image_repository=REPOSITORY))


@pytest.fixture(scope='module', autouse=True)
def fleet(engine):
    """Bake the images into the session's test repository (cache hits when another test file baked them;
    base first, then web and lb side by side) and deploy the fleet; the fleet is removed before and after,
    the images at the end of the session (conftest)."""
    remove_fleet(engine, FLEET)
    try:
        run = bake(BASE)
        assert run.rc == 0, run.output[-3000:]
        with ThreadPoolExecutor(max_workers=len(BAKES)) as pool:
            runs = list(pool.map(bake, BAKES))
        for extra, run in zip(BAKES, runs):
            assert run.rc == 0, 'bake of %s failed:\n%s' % (extra, run.output[-3000:])
        deploy = playbook('rollout.yml')
        assert deploy.rc == 0, deploy.output[-3000:]
        assert_fleet(engine, 3)
        yield
    finally:
        remove_fleet(engine, FLEET)


# Helpers ------------------------------------------------------------------------------------------------------
def playbook(name, check=False, inventory=INVENTORY, **extra):
    return run_playbook(name, dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra), check=check,
                        inventory=inventory)


def module_result(run, task):
    results = run.task_results(task)
    assert results, run.output[-3000:]
    return results[0]


def heal(check=False, **extra):
    run = playbook('heal.yml', check=check, **extra)
    return run, module_result(run, 'Heal fleet')


def drift(check=False, **extra):
    run = playbook('drift.yml', check=check, **extra)
    return run, module_result(run, 'Compare with their image')


def containers(engine):
    """``{name: (role, state)}`` of every container of the test fleet."""
    return dict((c.name, (c.labels.get('io.immutable-infra.role'), c.status))
                for c in engine.containers.list(all=True, filters={'label': FLEET_LABEL}))


def running_instances(engine):
    return sorted(n for n, (role, state) in containers(engine).items() if role == 'instance' and state == 'running')


def assert_fleet(engine, count=3):
    """``count`` running instances, the load balancer, no lock, nothing else; every instance serves."""
    found = containers(engine)
    assert len(running_instances(engine)) == count, found
    assert [n for n, (role, state) in found.items() if role == 'lb'] == ['%s-lb' % FLEET], found
    assert '%s-lock' % FLEET not in found
    assert not [n for n, (role, state) in found.items() if role == 'instance' and state != 'running'], found
    status = playbook('status.yml')
    table = module_result(status, 'Show the fleets')['msg']
    assert table.count('ready up w100') == count, table


def write_into(engine, name, path):
    """A human changing a running server by hand (the test does it; the product never does)."""
    engine.containers.get(name).exec_run(['sh', '-c', 'echo changed-by-hand > %s' % path], user='root')


def plain(value):
    """A value of ansible-inventory's JSON without its "unsafe" wrapper."""
    return value.get('__ansible_unsafe', value) if isinstance(value, dict) else value


def diff_of(engine, name):
    return sorted((d['Path'], d['Kind']) for d in engine.api.diff(engine.containers.get(name).id) or [])


# A healthy fleet ----------------------------------------------------------------------------------------------
def test_a_healthy_fleet_is_left_alone_by_heal_and_drift(engine):
    before = containers(engine)
    run, result = heal()
    assert run.rc == 0, run.output[-3000:]
    assert result['changed'] is False and result['outcome'] == 'unchanged'
    run, result = heal(check=True)
    assert run.rc == 0 and result['changed'] is False
    run, result = drift()
    assert run.rc == 0, run.output[-3000:]
    assert result['changed'] is False and result['drifted'] == []
    assert sorted(f['name'] for f in result['findings']) == running_instances(engine)
    assert all(f['image_id'] == f['expected_image_id'] for f in result['findings'])
    assert containers(engine) == before


# Heal ---------------------------------------------------------------------------------------------------------
def test_heal_check_mode_lists_the_killed_instance_and_changes_nothing(engine):
    victim = running_instances(engine)[0]
    engine.containers.get(victim).kill()
    before = containers(engine)
    run, result = heal(check=True)
    assert run.rc == 0, run.output[-3000:]
    assert result['changed'] is True and result['outcome'] == 'planned'
    assert [(r['name'], r['reason']) for r in result['plan']['replace']] == [(victim, 'exited')]
    assert result['plan']['create'] == 1
    assert 'would replace: 1' in module_result(run, 'Show the result')['msg']
    assert containers(engine) == before


def test_killed_instance_is_replaced_without_a_failed_request(engine):
    with Probe(LB_PORT, timeout=PROBE_TIMEOUT) as probe:
        victim = running_instances(engine)[0]
        engine.containers.get(victim).kill()
        run, result = heal()
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0 and probe.requests > 20, probe
    replaced = {r['name']: r['reason'] for r in result['replaced']}
    # The instance killed by the check-mode test and the one killed here.
    assert victim in replaced and set(replaced.values()) == {'exited'}
    assert len(result['created']) == len(replaced)
    assert not set(result['removed']) & set(containers(engine))
    assert_fleet(engine, 3)
    image_ids = set(c.labels['io.immutable-infra.image-id'] for c in engine.containers.list(filters={'label': FLEET_LABEL})
                    if c.labels.get('io.immutable-infra.role') == 'instance')
    assert image_ids == {result['revision']['image_id']}
    run, again = heal()
    assert run.rc == 0 and again['changed'] is False


def test_an_instance_unhealthy_longer_than_the_threshold_is_replaced(engine):
    victim = running_instances(engine)[1]
    # Cut it off its network: still running, but neither HAProxy nor the controller reach it any more.
    engine.networks.get('%s-net' % FLEET).disconnect(victim)
    with Probe(LB_PORT, timeout=PROBE_TIMEOUT) as probe:
        run, result = heal(unhealthy_after=3)
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0 and probe.requests > 20, probe
    assert [(r['name'], r['reason']) for r in result['replaced']] == [(victim, 'unhealthy')], result['events']
    assert victim not in containers(engine)
    assert_fleet(engine, 3)


def test_a_concurrent_heal_fails_fast_naming_the_lock_holder(engine):
    provider = DockerProvider(engine, REPOSITORY)
    pid = os.getpid()
    holder = {'host': socket.gethostname(), 'pid': str(pid), 'pid_start': process_start(pid),
              'started': '2026-01-01T00:00:00Z', 'operation': 'rollout of %s to 1.0.0 (rolling)' % FLEET,
              'token': 'itest-heal'}
    victim = running_instances(engine)[0]
    engine.containers.get(victim).kill()
    provider.acquire_lock(FLEET, holder)
    try:
        before = containers(engine)
        started = time.monotonic()
        run, result = heal()
        assert run.rc != 0
        assert 'is locked by rollout of %s to 1.0.0 (rolling) (pid %d' % (FLEET, pid) in result['msg'], result['msg']
        assert time.monotonic() - started < 30
        assert containers(engine) == before
    finally:
        provider.release_lock(FLEET, token='itest-heal')
    run, result = heal()
    assert run.rc == 0 and [r['name'] for r in result['replaced']] == [victim], run.output[-3000:]
    assert_fleet(engine, 3)


# Drift --------------------------------------------------------------------------------------------------------
def test_a_file_in_etc_is_drift_and_replacing_it_fails_no_request(engine, tmp_path):
    victim, scratch = running_instances(engine)[:2]
    write_into(engine, victim, '/etc/hand-edit.conf')
    write_into(engine, scratch, '/tmp/scratch.txt')
    report = tmp_path / 'reports' / 'drift.json'
    run, result = drift(report_path=str(report))
    assert run.rc == 0, run.output[-3000:]
    assert result['drifted'] == [victim]
    finding = next(f for f in result['findings'] if f['name'] == victim)
    assert finding['changes']['added'] == ['/etc/hand-edit.conf'] and not finding['image_drift']
    assert not next(f for f in result['findings'] if f['name'] == scratch)['drifted']
    table = module_result(run, 'Show the findings')['msg']
    assert victim in table and 'added /etc/hand-edit.conf' in table and 'scratch' not in table
    document = json.loads(report.read_text())
    assert document['drifted'] == [victim] and document['fleet'] == FLEET

    run = playbook('drift.yml', fail_on_drift=True)
    assert run.rc != 0 and 'drifted from their image: %s' % victim in run.output

    before = containers(engine)
    run, planned = drift(check=True, remediate='replace')
    assert run.rc == 0 and planned['remediation']['outcome'] == 'planned'
    assert [r['name'] for r in planned['remediation']['plan']['replace']] == [victim]
    assert containers(engine) == before

    with Probe(LB_PORT, timeout=PROBE_TIMEOUT) as probe:
        run, result = drift(remediate='replace')
    assert run.rc == 0, run.output[-3000:]
    assert probe.failures == 0 and probe.requests > 20, probe
    assert result['changed'] is True
    assert [(r['name'], r['reason']) for r in result['remediation']['replaced']] == [(victim, 'drifted')]
    new = result['remediation']['created'][0]
    assert victim not in containers(engine) and scratch in containers(engine)
    assert_fleet(engine, 3)

    run, result = drift()
    assert run.rc == 0 and result['changed'] is False and result['drifted'] == []
    assert next(f for f in result['findings'] if f['name'] == new)['changes'] == {
        'added': [], 'changed': [], 'deleted': []}


# Inventory plugin and the bake guard -----------------------------------------------------------------------------
def test_inventory_lists_the_instances_and_the_bake_guard_refuses_them(engine, tmp_path):
    source = tmp_path / 'ithealweb.fleet.yml'
    source.write_text('plugin: immutable.infra.fleet\nfleets: [%s]\n' % FLEET)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    listed = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', str(source), '--list'], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    inventory = json.loads(listed.stdout)
    instances = running_instances(engine)
    assert sorted(inventory['fleet_%s' % FLEET]['hosts']) == instances
    assert sorted(inventory['fleet_%s_version_1_0_0' % FLEET]['hosts']) == instances
    hostvars = dict((key, plain(value)) for key, value in inventory['_meta']['hostvars'][instances[0]].items())
    assert hostvars['ansible_connection'] == 'community.docker.docker' and hostvars['immutable_fleet'] == FLEET
    assert hostvars['immutable_image_id'].startswith('sha256:')

    before = dict((name, diff_of(engine, name)) for name in instances)
    run = run_playbook('provision.yml', {'image': 'web', 'packer_build_name': 'x'}, inventory=str(source))
    assert run.rc != 0
    assert 'carries the sealed-image marker' in run.output, run.output[-3000:]
    failed = [h for h in run.task_results('Refuse to configure a sealed image') if h.get('failed')]
    assert len(failed) == len(instances), run.output[-3000:]
    assert dict((name, diff_of(engine, name)) for name in instances) == before

# -*- coding: utf-8 -*-
"""The Swarm test bed (scripts/swarm.sh, make swarm-up) used for real.

The bed is brought up (built when missing), then through the manager's API only: every node Ready with the
configured number of managers; an image built from the bootstrap OS image is pushed from the host to the bed's
registry on 127.0.0.1 and runs as a 3-replica dnsrr service by digest, spread over more than one node; ``up``
again is quick and changes nothing; the host engine's own swarm state is what it was. A bed that cannot start
fails the test with the script's output; nothing is skipped. The bed is removed at the end unless it was up
before (a developer's bed stays). Tests run in file order and share the bed.
"""

import io
import os
import subprocess
import time

import docker
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'scripts', 'swarm.sh')
OS_IMAGE = os.environ.get('IMMUTABLE_OS_IMAGE', 'immutable-infra/debian:bookworm')
REGISTRY = '127.0.0.1:%s' % os.environ.get('SWARM_REGISTRY_PORT', '5005')
MANAGER_API = 'tcp://127.0.0.1:%s' % os.environ.get('SWARM_API_PORT', '2385')
MANAGERS = int(os.environ.get('SWARM_MANAGERS', '1'))
WORKERS = int(os.environ.get('SWARM_WORKERS', '2'))
SERVICE = 'immutable-swarm-probe'
WARM_UP_SECONDS = 15


def swarm_sh(*args):
    """scripts/swarm.sh ARGS: (return code, output, seconds)."""
    start = time.monotonic()
    done = subprocess.run(['bash', SCRIPT] + list(args), capture_output=True, text=True, timeout=900, check=False)
    return done.returncode, done.stdout + done.stderr, time.monotonic() - start


def host_swarm_state():
    return subprocess.run(['docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'],
                          capture_output=True, text=True, check=True).stdout.strip()


def wait(what, check, timeout=120, interval=0.5):
    """check() until it returns something true, within timeout seconds; else fail naming what."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail('%s: not within %d s' % (what, timeout))
        time.sleep(interval)


def bed_snapshot():
    """What `up` must leave alone: each bed container's id and start time."""
    host = docker.from_env()
    try:
        return {c.name: (c.id, c.attrs['State']['StartedAt'], c.status)
                for c in host.containers.list(all=True, filters={'label': 'io.immutable-swarm.bed=1'})}
    finally:
        host.close()


@pytest.fixture(scope='module')
def bed():
    state_before = host_swarm_state()
    was_up = swarm_sh('status')[0] == 0
    rc, output, seconds = swarm_sh('up')
    if rc != 0:
        pytest.fail('the Swarm test bed did not come up (scripts/swarm.sh up, rc %d):\n%s' % (rc, output[-4000:]))
    print('scripts/swarm.sh up: %.1f s (%s)' % (seconds, 'was up' if was_up else 'from down'))
    manager = docker.DockerClient(base_url=MANAGER_API, timeout=60)
    yield {'manager': manager, 'host_state': state_before}
    manager.close()
    if not was_up:
        rc, output, dummy = swarm_sh('down')
        assert rc == 0, output
    assert host_swarm_state() == state_before, 'the host engine\'s own swarm state changed'


def test_every_node_ready_with_the_configured_managers(bed):
    nodes = bed['manager'].nodes.list()
    assert len(nodes) == MANAGERS + WORKERS, [n.attrs['Description']['Hostname'] for n in nodes]
    assert all(n.attrs['Status']['State'] == 'ready' for n in nodes), [n.attrs['Status'] for n in nodes]
    managers = [n for n in nodes if n.attrs['Spec']['Role'] == 'manager']
    assert len(managers) == MANAGERS
    assert sum(1 for n in managers if n.attrs['ManagerStatus'].get('Leader')) == 1
    assert sorted(n.attrs['Description']['Hostname'] for n in nodes) == sorted(
        ['immutable-swarm-m%d' % i for i in range(1, MANAGERS + 1)]
        + ['immutable-swarm-w%d' % i for i in range(1, WORKERS + 1)])


def test_image_pushed_from_the_host_runs_by_digest_over_several_nodes(bed):
    manager = bed['manager']
    host = docker.from_env()
    tag = 'probe-%d-%d' % (os.getpid(), time.time())
    local = 'immutable-swarm/probe:%s' % tag
    remote = '%s/immutable-swarm/probe:%s' % (REGISTRY, tag)
    dockerfile = 'FROM %s\nLABEL io.immutable-swarm.probe=%s\nCMD ["sleep", "infinity"]\n' % (OS_IMAGE, tag)
    try:
        host.images.build(fileobj=io.BytesIO(dockerfile.encode()), tag=local, rm=True)
        subprocess.run(['docker', 'tag', local, remote], check=True)
        pushed = subprocess.run(['docker', 'push', remote], capture_output=True, text=True, check=False)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        digests = [d for d in host.images.get(remote).attrs['RepoDigests'] if d.startswith(REGISTRY + '/')]
        assert digests, 'docker push gave no digest for %s' % remote
        by_digest = digests[0]

        service = manager.services.create(
            by_digest, name=SERVICE, labels={'io.immutable-swarm.bed': 'test'},
            mode=docker.types.ServiceMode('replicated', replicas=3),
            endpoint_spec=docker.types.EndpointSpec(mode='dnsrr'),
            stop_grace_period=1_000_000_000)
        try:
            def running():
                tasks = [t for t in service.tasks() if t['DesiredState'] == 'running']
                up = [t for t in tasks if t['Status']['State'] == 'running']
                failed = [t['Status'] for t in service.tasks() if t['Status']['State'] in ('failed', 'rejected')]
                if failed:
                    pytest.fail('tasks of %s failed: %s' % (SERVICE, failed))
                return up if len(up) == 3 else None
            tasks = wait('3 running tasks of %s' % SERVICE, running, timeout=180)
            assert all(t['Spec']['ContainerSpec']['Image'] == by_digest for t in tasks), \
                [t['Spec']['ContainerSpec']['Image'] for t in tasks]
            on_nodes = {t['NodeID'] for t in tasks}
            assert len(on_nodes) > 1, 'every task of %s runs on node %s' % (SERVICE, on_nodes)
            assert service.attrs['Spec']['EndpointSpec']['Mode'] == 'dnsrr'
        finally:
            service.remove()
        wait('%s removed' % SERVICE, lambda: not manager.services.list(filters={'name': SERVICE}), timeout=30)
    finally:
        for name in (remote, local):
            try:
                host.images.remove(name, noprune=False)
            except docker.errors.ImageNotFound:
                pass
        host.close()


def test_up_again_is_quick_and_changes_nothing(bed):
    before = bed_snapshot()
    nodes_before = sorted(n.id for n in bed['manager'].nodes.list())
    rc, output, seconds = swarm_sh('up')
    assert rc == 0, output
    print('scripts/swarm.sh up on the running bed: %.1f s' % seconds)
    assert seconds < WARM_UP_SECONDS, output
    for word in (' built', ' created', ' started', ' joined', ' initialised', ' removed', 'anew'):
        assert word not in output, output
    assert bed_snapshot() == before
    assert sorted(n.id for n in bed['manager'].nodes.list()) == nodes_before


def test_host_swarm_state_unchanged(bed):
    assert host_swarm_state() == bed['host_state']

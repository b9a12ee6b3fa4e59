# -*- coding: utf-8 -*-
"""Integration tests: real playbooks against the real engine, in a test repository of their own.

Images are baked under the repository ``itest`` (not the user's ``immutable``), shared by every test file so
that a file finds the images another one baked as cache hits, and removed at the start and end of the session.
"""

import collections
import http.client
import json
import os
import subprocess
import sys
import threading
import time

import docker
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
# Several developers (or helpers) on one engine: each run may take its own repository.
REPOSITORY = os.environ.get('IMMUTABLE_ITEST_REPOSITORY', 'itest')


class PlaybookRun:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        try:
            self.result = json.loads(completed.stdout[completed.stdout.index('{'):])
        except ValueError:
            self.result = {}

    @property
    def stats(self):
        return self.result.get('stats', {}).get('localhost', {})

    @property
    def changed(self):
        return self.stats.get('changed', 0)

    def task_results(self, name_part):
        """Every host result of the tasks whose name contains ``name_part``."""
        found = []
        for play in self.result.get('plays', []):
            for task in play.get('tasks', []):
                if name_part in task['task']['name']:
                    found.extend(task['hosts'].values())
        return found

    def messages(self):
        msgs = []
        for play in self.result.get('plays', []):
            for task in play.get('tasks', []):
                msgs.extend(str(h.get('msg', '')) for h in task['hosts'].values())
        return '\n'.join(msgs)


class Probe:
    """GET /version on a load balancer on 127.0.0.1 every ``interval`` s from a thread, at most ``max_requests`` times and
    ``max_seconds`` long; counts failures (anything but a 200 with a JSON version) and versions seen."""

    def __init__(self, port, path='/version', interval=0.02, max_requests=8000, max_seconds=180, timeout=5):
        self.port = port
        self.path = path
        self.timeout = timeout
        self.interval = interval
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.requests = 0
        self.failures = 0
        self.errors = collections.Counter()
        self.versions = collections.Counter()
        self.last_version = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _once(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=self.timeout)
        try:
            conn.request('GET', self.path, headers={'Connection': 'close'})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                return None, 'HTTP %d' % response.status
            return json.loads(body)['version'], None
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            return None, type(exc).__name__
        finally:
            conn.close()

    def _run(self):
        deadline = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and self.requests < self.max_requests and time.monotonic() < deadline:
            version, error = self._once()
            self.requests += 1
            if error:
                self.failures += 1
                self.errors[error] += 1
            else:
                self.versions[version] += 1
                self.last_version = version
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self._stop.set()
        self._thread.join(timeout=self.timeout + 10)

    def __repr__(self):
        return 'Probe(%d requests, %d failed %s, versions %s)' % (self.requests, self.failures, dict(self.errors),
                                                                  dict(self.versions))


def run_playbook(playbook, extra_vars=None, check=False, timeout=900, inventory=None):
    """ansible-playbook from the repo root with the JSON callback; returns a PlaybookRun."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1',
               ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    cmd = [os.path.join(BIN, 'ansible-playbook'), os.path.join('playbooks', playbook)]
    if inventory:
        cmd += ['-i', inventory]
    for key, value in (extra_vars or {}).items():
        cmd += ['-e', json.dumps({key: value})]
    if check:
        cmd.append('--check')
    completed = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    return PlaybookRun(completed)


def bake_images(bakes, repository=REPOSITORY):
    """Bake each of ``bakes`` ({'image': NAME, 'version': X.Y.Z, ...extra vars}) into ``repository``: cache hits
    when another test file baked them already. A failed bake fails the caller, naming the bake."""
    for bake in bakes:
        run = run_playbook('bake.yml', dict(bake, image_repository=repository))
        assert run.rc == 0, 'bake of %s failed:\n%s' % (bake, run.output[-3000:])


def pytest_collection_modifyitems(items):
    """The fault drills (faults/) run after the other files: test_bake.py expects to bake its images first, and
    the slow drills come last."""
    items.sort(key=lambda item: os.sep + 'faults' + os.sep in str(item.fspath))


@pytest.fixture(scope='session')
def engine():
    return docker.from_env(timeout=120)


def remove_repository(engine, repository):
    """Remove every image tagged under ``repository/`` and the containers that use them."""
    for container in engine.containers.list(all=True):
        try:
            tags = container.image.tags
        except docker.errors.ImageNotFound:
            tags = []
        if any(t.startswith(repository + '/') for t in tags):
            container.remove(force=True, v=True)
    for image in engine.images.list():
        if any(t.startswith(repository + '/') for t in image.tags):
            engine.images.remove(image.id, force=True)


def remove_network(network, seconds=10):
    """Remove ``network``; the engine may still list an endpoint of a container just removed (403 "has active
    endpoints") for a moment: disconnect what it lists and retry for up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            network.remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            network.reload()
            for endpoint in (network.attrs.get('Containers') or {}):
                try:
                    network.disconnect(endpoint, force=True)
                except docker.errors.APIError:
                    pass
            time.sleep(0.5)


def remove_fleet(engine, fleet):
    """Remove every container, network, volume and history record of ``fleet`` (whatever it left behind)."""
    label = 'io.immutable-infra.fleet=%s' % fleet
    for container in engine.containers.list(all=True, filters={'label': label}):
        container.remove(force=True, v=True)
    for network in engine.networks.list(names=['%s-net' % fleet]):
        remove_network(network)
    for volume in engine.volumes.list(filters={'label': label}):
        volume.remove(force=True)
    for image in engine.images.list(filters={'label': 'io.immutable-infra.history-of=%s' % fleet}):
        engine.images.remove(image.id, force=True)


@pytest.fixture(scope='session', autouse=True)
def clean_test_repository(engine):
    """Remove every itest/* image and test container before and after the session."""
    remove_repository(engine, REPOSITORY)
    yield
    remove_repository(engine, REPOSITORY)

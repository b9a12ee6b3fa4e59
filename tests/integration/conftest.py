# -*- coding: utf-8 -*-
"""Integration tests: real playbooks against the real engine, in a test repository of their own.

Images are baked under the repository ``itest`` (not the user's ``immutable``), shared by every test file so
that a file finds the images another one baked as cache hits, and removed at the start and end of the session.
"""

import json
import os
import subprocess
import sys

import docker
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
REPOSITORY = 'itest'


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


@pytest.fixture(scope='session', autouse=True)
def clean_test_repository(engine):
    """Remove every itest/* image and test container before and after the session."""
    remove_repository(engine, REPOSITORY)
    yield
    remove_repository(engine, REPOSITORY)

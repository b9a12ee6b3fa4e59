# -*- coding: utf-8 -*-
"""``make demo``'s script, then the README's "by hand" commands exactly as the README writes them.

The demo bakes lb 1.0.0, web 1.0.0 and 1.1.0 into its own repository ``demo``, rolls the fleet ``web``
(127.0.0.1:8080) from 1.0.0 to 1.1.0 under a probe and must report 0 failed requests. The README's shell block
that follows "The same by hand" is then run line by line from the checkout, each line must succeed, and the
fleet must end where the block leaves it: 1.0.0 by a rolling rollout, after a rollback and a canary to the
channel ``prod``. The demo's fleet and its ``demo/*`` images are removed at the end (``make demo`` bakes them
again), so that port 8080 is free after the suite.
"""

import json
import os
import re
import subprocess

import pytest

from conftest import BIN, ROOT, remove_fleet, remove_repository, run_playbook

DEMO_REPOSITORY = 'demo'
DEMO_FLEET = 'web'


def readme_by_hand_lines():
    """The commands of the README's block after 'The same by hand', comments and blank lines dropped."""
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as handle:
        text = handle.read()
    match = re.search(r'The same by hand.*?```sh\n(.*?)```', text, re.S)
    assert match, 'README.md has no ```sh block after "The same by hand"'
    return [line for line in match.group(1).splitlines() if line.strip() and not line.lstrip().startswith('#')]


def shell(script, timeout):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', ''),
               ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    return subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope='module')
def demo(engine):
    # A demo fleet left by an earlier make demo would shift the revision numbers: start from none.
    remove_fleet(engine, DEMO_FLEET)
    yield
    remove_fleet(engine, DEMO_FLEET)
    remove_repository(engine, DEMO_REPOSITORY)


def test_demo_rolls_with_no_failed_request(demo):
    done = shell('bash scripts/demo.sh', timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    probe = re.search(r'probe: (\d+) requests to \S+ in [\d.]+ s, (\d+) failed', done.stdout)
    assert probe, done.stdout[-2000:]
    assert int(probe.group(1)) > 0 and int(probe.group(2)) == 0, probe.group(0)
    assert re.search(r'versions served, in order: 1\.0\.0 -> 1\.1\.0', done.stdout), done.stdout[-2000:]


def test_readme_by_hand_commands_work_after_the_demo(demo, engine):
    lines = readme_by_hand_lines()
    assert any('rollback.yml' in line for line in lines), lines
    script = ''
    for line in lines:
        # Each line runs in the same shell (the block sets variables); a failing line stops with its text.
        script += '%s || { echo "README line failed: %s" >&2; exit 1; }\n' % (line, line.replace('"', '\\"'))
    done = shell(script, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-4000:]

    instances = engine.containers.list(filters={'label': ['io.immutable-infra.fleet=%s' % DEMO_FLEET,
                                                          'io.immutable-infra.role=instance']})
    versions = sorted(c.labels.get('io.immutable-infra.version') for c in instances)
    assert versions == ['1.0.0'] * 3, versions
    info = run_playbook('status.yml', {'fleet': DEMO_FLEET, 'image_repository': DEMO_REPOSITORY}, timeout=300)
    assert info.rc == 0, info.output[-3000:]
    text = json.dumps(info.result)
    # The history, newest first: the rolling rollout back to 1.0.0, the canary to prod's 1.1.0, the rollback.
    history = re.findall(r'(\d+)\s+(\d+\.\d+\.\d+)\s+(rolling|canary|blue_green)\s+(\w+)', text)
    assert [h[:2] + h[3:] for h in history[:3]] == [('5', '1.0.0', 'succeeded'), ('4', '1.1.0', 'succeeded'),
                                                    ('3', '1.0.0', 'succeeded')], history[:5]
    assert history[0][2] == 'rolling' and history[1][2] == 'canary', history[:2]

# -*- coding: utf-8 -*-
"""One model for plan and run, for real (issue 12, item 3): the check-mode run and the real run of the same
rolling rollout (10 instances, max surge 2) list the same steps, and the real one fails no request.

The fleet ``i12pplan`` (127.0.0.1:28680) is declared in tests/integration/plan_fleets (an inventory of its own);
web 1.0.0 and 1.1.0 and lb 1.0.0 are baked into the session's test repository (conftest.REPOSITORY), cache hits
when test_rollout.py baked them already.
"""

import os

import pytest

from conftest import REPOSITORY, ROOT, Probe, bake_images, remove_fleet, run_playbook

FLEET = 'i12pplan'
LB_PORT = 28680
INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'plan_fleets', 'hosts.yml')
BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.1.0'},
]


@pytest.fixture(scope='module', autouse=True)
def fleet(engine):
    remove_fleet(engine, FLEET)
    bake_images(BAKES)
    yield FLEET
    remove_fleet(engine, FLEET)


def rollout(check=False, **extra):
    run = run_playbook('rollout.yml', dict({'fleet': FLEET, 'image_repository': REPOSITORY}, **extra), check=check,
                       inventory=INVENTORY)
    assert run.rc == 0, run.output[-3000:]
    results = run.task_results('Roll out fleet')
    assert results, run.output[-3000:]
    return results[0]


def instances(engine, version):
    return sorted(c.name for c in engine.containers.list(filters={'label': 'io.immutable-infra.fleet=%s' % FLEET})
                  if c.labels.get('io.immutable-infra.role') == 'instance'
                  and c.labels.get('io.immutable-infra.version') == version)


def test_the_real_rolling_rollout_runs_the_steps_check_mode_lists(engine):
    first = rollout(version='1.0.0')
    assert first['outcome'] == 'succeeded', first['events']
    old = instances(engine, '1.0.0')
    assert len(old) == 10

    check = rollout(check=True, version='1.1.0')
    assert check['outcome'] == 'planned' and check['changed'] is True
    planned = check['plan']['steps']
    assert check['planned_steps'] == planned
    assert [(len(s['retire_first']), s['create'], len(s['retire'])) for s in planned] == [(0, 2, 2)] * 5
    assert sorted(n for s in planned for n in s['retire']) == old
    assert instances(engine, '1.0.0') == old and not instances(engine, '1.1.0')

    with Probe(LB_PORT) as probe:
        result = rollout(version='1.1.0')
    assert result['outcome'] == 'succeeded', result['events']
    assert probe.failures == 0, probe
    assert probe.versions['1.0.0'] and probe.versions['1.1.0'] and probe.last_version == '1.1.0', probe
    assert result['planned_steps'] == planned and result['replanned'] == []
    ran = [dict((k, v) for k, v in step.items() if k != 'instances') for step in result['steps']]
    assert ran == planned
    new = instances(engine, '1.1.0')
    assert sorted(n for s in result['steps'] for n in s['instances']) == new and len(new) == 10
    assert not instances(engine, '1.0.0')

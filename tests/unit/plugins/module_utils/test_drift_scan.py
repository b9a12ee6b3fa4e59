# -*- coding: utf-8 -*-
"""Drift of a fleet against the fakes: findings per instance, the report file, remediation through heal."""

import json
import os

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import drift, drift_scan
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError
from ansible_collections.immutable.infra.plugins.module_utils.provider import Instance, ProviderError
from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider

from fleet_fakes import LB_IMAGE, target
from heal_fakes import FakeDiff, HealWorld

from docker.errors import APIError, NotFound

DEFAULTS = list(drift.DEFAULT_RUNTIME_PATHS)


@pytest.fixture
def world():
    w = HealWorld()
    w.deploy()
    w.diff = FakeDiff()
    w.provider.diff = w.diff
    return w


def run(world, **kwargs):
    kwargs.setdefault('runtime_paths', DEFAULTS)
    return drift_scan.Drift(world.engine()).run(**kwargs)


def names(world):
    return sorted(world.provider.items)


def test_a_clean_fleet_has_no_findings_and_is_unchanged(world):
    world.diff.changes = dict((n, [('/run', 0), ('/run/nginx.pid', 1)]) for n in names(world))
    result = run(world)
    assert result['changed'] is False and result['drifted'] == []
    assert [f['name'] for f in result['findings']] == names(world)
    assert all(not f['drifted'] and f['version'] == '1.0.0' and f['revision'] == 1 for f in result['findings'])
    assert result['revision'] == {'number': 1, 'version': '1.0.0', 'image_id': 'sha256:v1'}
    assert result['table'][0].startswith('INSTANCE') and len(result['table']) == 4
    # Remediation of a clean fleet changes nothing either.
    calls = list(world.provider.calls)
    result = run(world, remediate=True)
    assert result['changed'] is False and result['remediation']['outcome'] == 'unchanged'
    assert world.provider.calls == calls


def test_a_file_in_etc_is_drift_and_a_file_in_tmp_is_not(world):
    etc, tmp = names(world)[:2]
    world.diff.changes = {etc: [('/etc', 0), ('/etc/evil.conf', 1)], tmp: [('/tmp', 0), ('/tmp/scratch', 1)]}
    result = run(world)
    assert result['drifted'] == [etc] and result['changed'] is False
    finding = next(f for f in result['findings'] if f['name'] == etc)
    assert finding['changes'] == {'added': ['/etc/evil.conf'], 'changed': [], 'deleted': []}
    assert not finding['image_drift']
    assert any(etc in line and 'added /etc/evil.conf' in line for line in result['table'])
    assert not any('/tmp' in line for line in result['table'])


def test_runtime_paths_are_configurable(world):
    victim = names(world)[0]
    world.diff.changes = {victim: [('/srv/app/state/db', 1), ('/tmp/x', 1)]}
    assert run(world, runtime_paths=['/srv/app/state'])['drifted'] == [victim]   # /tmp no longer allowed
    assert run(world, runtime_paths=DEFAULTS + ['/srv/app/state'])['drifted'] == []
    with pytest.raises(drift.DriftError):
        run(world, runtime_paths=['srv'])


def test_an_instance_of_another_image_is_image_drift(world):
    odd = world.provider.create_instance('web', 'sha256:v2', '1.1.0', 9, 8080)
    result = run(world)
    finding = next(f for f in result['findings'] if f['name'] == odd.name)
    assert finding['image_drift'] and finding['drifted'] and finding['expected_image_id'] == 'sha256:v1'
    assert result['drifted'] == [odd.name]
    assert 'runs image sha256:v2' in drift_scan.drift_detail(finding)


def test_every_change_of_an_instance_is_shown_in_the_table_and_the_remediation_plan(world):
    victim = names(world)[0]
    world.diff.changes = {victim: [('/etc', 0), ('/etc/a.conf', 1), ('/etc/b.conf', 1), ('/etc/passwd', 0),
                                   ('/usr', 0), ('/usr/bin', 0), ('/usr/bin/curl', 2)]}
    result = run(world, remediate=True, check_mode=True)
    changes = ['added /etc/a.conf', 'added /etc/b.conf', 'changed /etc/passwd', 'deleted /usr/bin/curl']
    # The table: one line per change, the first one on the instance's line.
    rows = [line for line in result['table'] if any(change in line for change in changes)]
    assert len(rows) == 4 and [c for c in changes if any(c in line for line in rows)] == changes, result['table']
    assert rows[0].startswith(victim) and all(not line.startswith(victim) for line in rows[1:])
    # The remediation plan (what drift.yml and heal.yml print as "would replace NAME (drifted: ...)").
    planned = result['remediation']['plan']['replace']
    assert [x['name'] for x in planned] == [victim]
    assert planned[0]['detail'] == ('4 filesystem change(s) against its image: added /etc/a.conf, /etc/b.conf; '
                                    'changed /etc/passwd; deleted /usr/bin/curl')


def test_drift_detail_names_the_image_and_every_change():
    finding = {'image_drift': True, 'image_id': 'sha256:' + 'b' * 64, 'expected_image_id': 'sha256:' + 'a' * 64,
               'changes': {'added': ['/x', '/y'], 'changed': [], 'deleted': ['/z']}}
    assert drift_scan.drift_detail(finding) == (
        "runs image sha256:bbbbbbbbbbbb, not the fleet revision's sha256:aaaaaaaaaaaa; "
        '3 filesystem change(s) against its image: added /x, /y; deleted /z')


def test_stopped_instances_are_skipped_not_compared(world):
    victim = names(world)[0]
    world.kill(victim)
    result = run(world)
    assert result['skipped'] == [{'name': victim, 'state': 'stopped', 'version': '1.0.0'}]
    assert victim not in world.diff.calls and len(result['findings']) == 2


def test_remediation_replaces_the_drifted_instance_through_heal(world):
    victim, other = names(world)[:2]
    world.diff.changes = {victim: [('/etc/evil.conf', 1)], other: [('/tmp/x', 1)]}
    result = run(world, remediate=True)
    assert result['changed'] is True
    remediation = result['remediation']
    assert remediation['outcome'] == 'healed'
    assert [(r['name'], r['reason']) for r in remediation['replaced']] == [(victim, 'drifted')]
    assert '/etc/evil.conf' in remediation['replaced'][0]['detail']
    new = remediation['created'][0]
    assert victim not in world.provider.items and other in world.provider.items
    assert world.provider.items[new].image_id == 'sha256:v1'
    calls = world.provider.calls
    assert calls.index(('create', new)) < calls.index(('remove', victim))
    assert world.serving_versions() == ['1.0.0'] * 3 and world.provider.lock is None
    # The new instance is clean.
    again = run(world)
    assert again['drifted'] == [] and new in [f['name'] for f in again['findings']]


def test_check_mode_remediation_lists_and_changes_nothing(world):
    victim = names(world)[2]
    world.diff.changes = {victim: [('/usr/bin/curl', 2)]}
    calls = list(world.provider.calls)
    result = run(world, remediate=True, check_mode=True)
    assert result['changed'] is True and result['remediation']['outcome'] == 'planned'
    assert [r['name'] for r in result['remediation']['plan']['replace']] == [victim]
    assert world.provider.calls == calls


def test_remediation_under_a_live_lock_fails_naming_the_holder(world):
    victim = names(world)[0]
    world.diff.changes = {victim: [('/etc/x', 1)]}
    world.provider.lock = {'host': 'ctl', 'pid': str(os.getpid()), 'operation': 'rollout of web', 'token': 'x'}
    with pytest.raises(FleetError, match='locked by rollout of web') as exc:
        run(world, remediate=True)
    assert exc.value.result['drifted'] == [victim]
    assert victim in world.provider.items


def test_report_is_written_atomically_and_only_when_it_changes(world, tmp_path):
    victim = names(world)[0]
    world.diff.changes = {victim: [('/etc/evil.conf', 1)]}
    path = tmp_path / 'reports' / 'drift.json'
    planned = run(world, report_path=str(path), check_mode=True)
    assert planned['report_changed'] is True and planned['changed'] is True and not path.exists()
    written = run(world, report_path=str(path))
    assert written['report_changed'] is True and written['report_path'] == str(path)
    doc = json.loads(path.read_text())
    assert doc['drifted'] == [victim] and doc['fleet'] == 'web' and doc['revision']['image_id'] == 'sha256:v1'
    assert doc['findings'][0]['changes']['added'] == ['/etc/evil.conf']
    again = run(world, report_path=str(path))
    assert again['report_changed'] is False and again['changed'] is False
    assert [p.name for p in path.parent.iterdir()] == ['drift.json']


def test_report_write_failure_is_a_clear_error(world, tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(FleetError, match='cannot write the drift report'):
        run(world, report_path=str(blocker / 'drift.json'))


def test_a_fleet_with_nothing_on_the_engine():
    world = HealWorld()
    world.provider.diff = FakeDiff()
    with pytest.raises(FleetError, match='nothing on the engine'):
        run(world)


def test_a_fleet_without_successful_revision():
    world = HealWorld()
    world.provider.diff = FakeDiff()
    with pytest.raises(FleetError):
        world.engine().rollout(target('sha256:bad'), LB_IMAGE)
    world.provider.create_instance('web', 'sha256:v1', '1.0.0', 1, 8080)
    with pytest.raises(FleetError, match='no successful revision'):
        run(world)


# The Docker provider's diff ----------------------------------------------------------------------------------
class FakeAPI:
    def __init__(self, answer=None, error=None):
        self.answer = answer
        self.error = error
        self.asked = []

    def diff(self, container):
        self.asked.append(container)
        if self.error:
            raise self.error
        return self.answer


class FakeClient:
    def __init__(self, api):
        self.api = api


def test_docker_provider_diff_asks_the_engine_by_container_id():
    inst = Instance('web-r1-aaaaaa', 'c1', 'web', 1, '1.0.0', 'sha256:v1', 8080, 'running')
    api = FakeAPI(answer=[{'Path': '/etc/x', 'Kind': 1}])
    assert DockerProvider(FakeClient(api)).diff(inst) == [{'path': '/etc/x', 'change': 'added'}]
    assert api.asked == ['c1']
    assert DockerProvider(FakeClient(FakeAPI(answer=None))).diff(inst) == []
    with pytest.raises(ProviderError, match='disappeared'):
        DockerProvider(FakeClient(FakeAPI(error=NotFound('gone')))).diff(inst)
    with pytest.raises(ProviderError, match='cannot compare instance'):
        DockerProvider(FakeClient(FakeAPI(error=APIError('boom')))).diff(inst)

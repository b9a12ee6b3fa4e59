# -*- coding: utf-8 -*-
"""Drift classification: runtime paths ignored, parent directories folded, image drift."""

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import drift

# The numbers the pairs below use: Docker's diff kinds, as DockerProvider.diff translates them.
KINDS = {0: 'changed', 1: 'added', 2: 'deleted'}
RUNTIME = drift.normalize_runtime_paths(drift.DEFAULT_RUNTIME_PATHS)


def entries(*pairs):
    return [{'path': path, 'change': KINDS[kind]} for path, kind in pairs]


def test_file_written_into_etc_is_reported_and_parents_are_folded():
    diff = entries(('/etc', 0), ('/etc/evil.conf', 1))
    assert drift.filesystem_changes(diff, RUNTIME) == {'added': ['/etc/evil.conf'], 'changed': [], 'deleted': []}


def test_runtime_paths_are_not_drift():
    diff = entries(('/tmp', 0), ('/tmp/x', 1), ('/run/nginx.pid', 1), ('/var/log/nginx/access.log', 0),
                   ('/var', 0), ('/var/cache/nginx/a', 1))
    assert drift.filesystem_changes(diff, RUNTIME) == {'added': [], 'changed': [], 'deleted': []}


def test_changed_file_and_deleted_file():
    diff = entries(('/usr', 0), ('/usr/bin', 0), ('/usr/bin/curl', 2), ('/etc/passwd', 0))
    assert drift.filesystem_changes(diff, RUNTIME) == {
        'added': [], 'changed': ['/etc/passwd'], 'deleted': ['/usr/bin/curl']}


def test_prefix_is_not_a_parent():
    # /tmpfoo is not under /tmp.
    assert drift.filesystem_changes(entries(('/tmpfoo', 1)), RUNTIME)['added'] == ['/tmpfoo']


def test_glob_runtime_path():
    paths = drift.normalize_runtime_paths(['/srv/app/*.pid'])
    assert drift.filesystem_changes(entries(('/srv/app/a.pid', 1), ('/srv/app/a.conf', 1)), paths)['added'] \
        == ['/srv/app/a.conf']


def test_relative_runtime_path_is_refused():
    with pytest.raises(drift.DriftError, match='absolute'):
        drift.normalize_runtime_paths(['tmp'])


def test_instance_drift_by_image_and_by_files():
    clean = drift.instance_drift({'name': 'a', 'image_id': 'sha256:1'}, 'sha256:1', [], RUNTIME)
    assert clean['drifted'] is False
    other_image = drift.instance_drift({'name': 'b', 'image_id': 'sha256:2'}, 'sha256:1', [], RUNTIME)
    assert other_image['drifted'] and other_image['image_drift']
    files = drift.instance_drift({'name': 'c', 'image_id': 'sha256:1'}, 'sha256:1',
                                 entries(('/etc/x', 1)), RUNTIME)
    assert files['drifted'] and not files['image_drift']
    lines = drift.report_lines([clean, other_image, files])
    assert any('added /etc/x' in line for line in lines)
    assert len(lines) == 4

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json

import pytest

from ansible_collections.immutable.infra.plugins.modules import secret_scan

import module_harness


PEM = '-----BEGIN %sPRIVATE KEY-----'


def run_module(args):
    return module_harness.run_module(secret_scan, args)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'motd').write_text('Welcome\n')
    return tmp_path


def test_fails_on_findings_with_paths_rules_and_how_to_allowlist(tree):
    key = tree / 'root' / '.ssh' / 'id_ed25519'
    key.parent.mkdir(parents=True)
    key.write_text(PEM % 'OPENSSH ' + '\nb3Bl\n')

    outcome, result = run_module({'paths': [str(tree)], 'exclude_paths': []})

    assert outcome == 'fail'
    assert '%s line 1 (rule private_key)' % key in result['msg']
    assert '%s (rule ssh_private_key_file)' % key in result['msg']
    assert 'image_seal_secret_allowlist' in result['msg']
    assert result['findings'] == [
        {'path': str(key), 'rule': 'ssh_private_key_file', 'line': None},
        {'path': str(key), 'rule': 'private_key', 'line': 1},
    ]
    assert result['scanned_files'] == 2


def test_exits_unchanged_when_there_is_nothing_to_report(tree):
    outcome, result = run_module({'paths': [str(tree)], 'exclude_paths': []})

    assert outcome == 'exit'
    assert result['changed'] is False
    assert result['findings'] == []
    assert (result['scanned_files'], result['skipped_files'], result['allowlisted_findings']) == (1, 0, 0)
    assert result['scanned_bytes'] == len('Welcome\n')


def test_returns_findings_without_failing_when_fail_on_findings_is_false(tree):
    (tree / 'etc' / '.vault_pass').write_text('hunter2\n')

    outcome, result = run_module({'paths': [str(tree)], 'exclude_paths': [], 'fail_on_findings': False})

    assert outcome == 'exit'
    assert result['changed'] is False
    assert result['findings'] == [
        {'path': str(tree / 'etc' / '.vault_pass'), 'rule': 'ansible_vault_password_file', 'line': None}]
    assert 'hunter2' not in json.dumps(result)


def test_allowlisted_findings_do_not_fail(tree):
    (tree / 'etc' / 'snakeoil.key').write_text(PEM % '' + '\n')

    outcome, result = run_module({'paths': [str(tree)], 'exclude_paths': [], 'allowlist': ['*/snakeoil.key']})

    assert outcome == 'exit'
    assert result['findings'] == []
    assert result['allowlisted_findings'] == 1


def test_defaults_scan_everything_with_the_reported_bounds(tree, monkeypatch):
    seen = {}

    def fake_scan(**kwargs):
        seen.update(kwargs)
        return {'findings': [], 'allowlisted_findings': 0, 'scanned_files': 0, 'skipped_files': 0}

    monkeypatch.setattr(secret_scan, 'scan', fake_scan)

    outcome, dummy = run_module({})

    assert outcome == 'exit'
    assert seen['paths'] == ['/']
    assert seen['exclude_paths'] == []
    assert (seen['max_file_size'], seen['max_decoded_size'], seen['max_depth']) == (67108864, 67108864, 4)


def test_a_file_it_cannot_read_fully_fails_naming_the_file_and_why(tree):
    big = tree / 'var' / 'lib' / 'app.db'
    big.parent.mkdir(parents=True)
    big.write_bytes(b'\x00' * 4096)

    outcome, result = run_module({'paths': [str(tree)], 'max_file_size': 1024})

    assert outcome == 'fail'
    assert '%s: 4096 bytes, bigger than max_file_size (1024 bytes)' % big in result['msg']
    assert result['findings'] == [{'path': str(big), 'rule': 'incomplete_scan', 'line': None,
                                   'reason': '4096 bytes, bigger than max_file_size (1024 bytes)'}]
    assert result['limits'] == {'max_file_size': 1024, 'max_decoded_size': 67108864, 'max_depth': 4}

    outcome, result = run_module({'paths': [str(tree)], 'max_file_size': 1024, 'allowlist': [str(big)]})

    assert outcome == 'exit'
    assert (result['allowlisted_findings'], result['skipped_files']) == (1, 1)


def test_a_secret_behind_a_nul_byte_fails_with_where_it_is(tree):
    conf = tree / 'etc' / 'nginx.conf'
    conf.write_bytes(b'worker_processes 2;\n# \x00\n# ' + (PEM % 'OPENSSH ').encode() + b'\n')

    outcome, result = run_module({'paths': [str(tree)]})

    assert outcome == 'fail'
    assert '%s line 3 (rule private_key)' % conf in result['msg']


def test_check_mode_scans_the_same_way(tree):
    (tree / 'etc' / 'app.env').write_text('AWS_ACCESS_KEY_ID=' + 'AK' + 'IA' + 'Q3EGRIJ7NDXZ5TBO\n')

    outcome, result = run_module({'paths': [str(tree)], 'exclude_paths': [], '_ansible_check_mode': True})

    assert outcome == 'fail'
    assert result['findings'][0]['rule'] == 'aws_access_key_id'


def test_a_missing_path_fails_with_a_message_naming_it(tree):
    missing = str(tree / 'nope')

    outcome, result = run_module({'paths': [missing]})

    assert outcome == 'fail'
    assert result['msg'] == 'paths: %s does not exist' % missing

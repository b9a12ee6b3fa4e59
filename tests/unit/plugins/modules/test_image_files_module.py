# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat
import sys

import pytest
import yaml

from ansible_collections.immutable.infra.plugins.modules import image_files

import module_harness
from fs_snapshot import snapshot


UID = os.getuid()
GID = os.getgid()
RESULT_KEYS = {'changed', 'changed_paths', 'directories', 'files', 'absent'}
# Passes when the file holds the word "valid".
CHECK = "%s -c \"import sys; sys.exit(0 if 'valid' in open(sys.argv[1]).read().split() else 1)\" %%s" % sys.executable


def run_module(args):
    return module_harness.run_module(image_files, args)


def read(path):
    with open(path) as handle:
        return handle.read()


@pytest.fixture
def root(tmp_path):
    (tmp_path / 'etc').mkdir()
    (tmp_path / 'etc' / 'app.conf').write_text('valid old\n')
    (tmp_path / 'etc' / 'default-site').write_text('server {}\n')
    return tmp_path


def arguments(root, config='valid new\n', mode='0644'):
    return {
        'directories': [{'path': str(root / 'srv' / 'www'), 'owner': UID, 'group': str(GID), 'mode': '0750'}],
        'files': [
            {'path': str(root / 'srv' / 'www' / 'index.html'), 'content': '<h1>web</h1>\n', 'owner': str(UID),
             'group': GID, 'mode': mode},
            {'path': str(root / 'etc' / 'app.conf'), 'content': config, 'owner': UID, 'group': GID, 'mode': '0644',
             'validate': CHECK},
        ],
        'absent': [str(root / 'etc' / 'default-site')],
    }


def test_puts_everything_into_place_in_one_run(root):
    outcome, result = run_module(arguments(root))

    assert outcome == 'exit'
    assert set(result) == RESULT_KEYS
    assert result['changed'] is True
    assert result['changed_paths'] == sorted(str(path) for path in (
        root / 'etc' / 'app.conf', root / 'etc' / 'default-site', root / 'srv', root / 'srv' / 'www',
        root / 'srv' / 'www' / 'index.html'))
    assert read(str(root / 'etc' / 'app.conf')) == 'valid new\n'
    assert read(str(root / 'srv' / 'www' / 'index.html')) == '<h1>web</h1>\n'
    assert stat.S_IMODE(os.stat(str(root / 'srv' / 'www')).st_mode) == 0o750
    assert not (root / 'etc' / 'default-site').exists()
    assert [item['state'] for item in result['files']] == ['created', 'updated']
    assert result['absent'] == [{'path': str(root / 'etc' / 'default-site'), 'state': 'removed', 'type': 'file'}]


def test_a_second_run_is_not_changed(root):
    run_module(arguments(root))
    before = snapshot(root)

    outcome, result = run_module(dict(arguments(root), _ansible_diff=True))

    assert outcome == 'exit'
    assert result['changed'] is False
    assert result['changed_paths'] == []
    assert 'diff' not in result
    assert snapshot(root) == before


def test_check_mode_reports_and_changes_nothing(root):
    before = snapshot(root)

    outcome, result = run_module(dict(arguments(root), _ansible_check_mode=True))

    assert outcome == 'exit'
    assert result['changed'] is True
    assert str(root / 'etc' / 'app.conf') in result['changed_paths']
    assert snapshot(root) == before


def test_check_mode_after_a_run_is_not_changed(root):
    run_module(arguments(root))

    outcome, result = run_module(dict(arguments(root), _ansible_check_mode=True))

    assert outcome == 'exit'
    assert result['changed'] is False


def test_diff_is_returned_only_in_diff_mode(root):
    outcome, result = run_module(dict(arguments(root), _ansible_check_mode=True, _ansible_diff=True))

    assert outcome == 'exit'
    config = str(root / 'etc' / 'app.conf')
    assert {'before_header': config, 'after_header': config, 'before': 'valid old\n', 'after': 'valid new\n'} \
        in result['diff']
    summary = result['diff'][-1]
    assert '%s (file, 10 bytes, mode 0644' % (root / 'etc' / 'default-site') in summary['before']
    assert '%s (directory, mode 0750, owner %d, group %d)' % (root / 'srv' / 'www', UID, GID) in summary['after']
    assert 'diff' not in run_module(dict(arguments(root), _ansible_check_mode=True))[1]


def test_a_failed_validation_fails_and_leaves_the_old_file(root):
    outcome, result = run_module(arguments(root, config='broken\n'))

    assert outcome == 'fail'
    assert result['msg'].startswith('files[1] (%s): the new content failed validation, the file was left as it '
                                    'was: ' % (root / 'etc' / 'app.conf'))
    assert read(str(root / 'etc' / 'app.conf')) == 'valid old\n'
    assert sorted(os.listdir(str(root / 'etc'))) == ['app.conf']
    # What was done before the failing file is reported.
    assert result['changed'] is True
    assert str(root / 'srv' / 'www' / 'index.html') in result['changed_paths']


def test_an_unquoted_mode_from_yaml_is_refused_before_anything_changes(root):
    args = arguments(root, mode=yaml.safe_load('mode: 0644')['mode'])
    before = snapshot(root)

    outcome, result = run_module(args)

    assert outcome == 'fail'
    assert result['msg'] == (
        "files[0] (%s): mode must be a quoted octal string such as '0644', got the number 420: YAML reads an "
        "unquoted 0644 as the number 420 and 644 as six hundred forty-four; quote it"
        % (root / 'srv' / 'www' / 'index.html'))
    assert result['changed'] is False
    assert result['changed_paths'] == []
    assert snapshot(root) == before


def test_a_relative_path_is_refused(root):
    args = arguments(root)
    args['absent'] = ['etc/default-site']
    before = snapshot(root)

    outcome, result = run_module(args)

    assert outcome == 'fail'
    assert result['msg'].startswith("absent[0] (etc/default-site): 'etc/default-site' is not an absolute path")
    assert snapshot(root) == before


@pytest.mark.parametrize('item, message', [
    ({'path': '/srv/www', 'owner': 0, 'group': 0}, 'missing required arguments: mode'),
    ({'path': '/srv/www', 'owner': 0, 'group': 0, 'mode': '0755', 'recurse': True}, 'recurse'),
])
def test_the_argument_spec_checks_the_keys(root, item, message):
    outcome, result = run_module({'directories': [item]})

    assert outcome == 'fail'
    assert message in result['msg']


def test_no_items_is_not_a_change():
    outcome, result = run_module({})

    assert outcome == 'exit'
    assert result == {'changed': False, 'changed_paths': [], 'directories': [], 'files': [], 'absent': []}

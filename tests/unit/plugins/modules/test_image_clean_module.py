# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.immutable.infra.plugins.module_utils import image_clean as image_clean_utils
from ansible_collections.immutable.infra.plugins.modules import image_clean

import module_harness


ROLE_DEFAULTS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'image_seal', 'defaults',
                             'main.yml')
RESULT_KEYS = {'changed', 'removed', 'truncated', 'emptied', 'created', 'updated', 'mounts_left'}


@pytest.fixture(autouse=True)
def mounts(monkeypatch):
    """The mount points the module sees (none unless a test adds some), instead of the test host's."""
    points = []
    monkeypatch.setattr(image_clean_utils, 'read_mount_points', lambda mountinfo=None: set(points))
    return points


def run_module(args):
    return module_harness.run_module(image_clean, args)


def write(root, path, content='leftover\n'):
    full = os.path.join(str(root), path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as handle:
        handle.write(content)
    return full


def at(root, path):
    return os.path.join(str(root), path.lstrip('/'))


@pytest.fixture
def image(tmp_path):
    write(tmp_path, '/etc/passwd', 'root:x:0:0:root:/root:/bin/bash\nops:x:1000:1000::/home/ops:/bin/bash\n')
    write(tmp_path, '/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease')
    write(tmp_path, '/var/cache/apt/archives/python3-apt_2.6.0_amd64.deb')
    write(tmp_path, '/var/log/seal-test.log')
    write(tmp_path, '/tmp/packer-provisioner-ansible1234/playbook.yml')
    write(tmp_path, '/var/tmp/leftover')
    write(tmp_path, '/root/.bash_history')
    write(tmp_path, '/home/ops/.bash_history')
    write(tmp_path, '/etc/ssh/ssh_host_ed25519_key')
    write(tmp_path, '/etc/machine-id', '0123456789abcdef0123456789abcdef\n')
    write(tmp_path, '/root/tools/__pycache__/tool.cpython-311.pyc')
    return tmp_path


def tree(root):
    return sorted(os.path.join(top, name) for top, dirs, files in os.walk(str(root)) for name in dirs + files)


def test_cleans_the_image_and_reports_what_went(image):
    outcome, result = run_module({'root': str(image)})

    assert outcome == 'exit'
    assert set(result) == RESULT_KEYS
    assert result['changed'] is True
    assert result['removed'] == sorted(at(image, path) for path in (
        '/etc/ssh/ssh_host_ed25519_key', '/home/ops/.bash_history', '/root/.bash_history',
        '/root/tools/__pycache__', '/tmp/packer-provisioner-ansible1234', '/var/cache/apt/archives',
        '/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', '/var/tmp/leftover'))
    assert result['truncated'] == [at(image, '/etc/machine-id'), at(image, '/var/log/seal-test.log')]
    assert result['emptied'] == sorted(at(image, path) for path in (
        '/tmp', '/var/cache/apt', '/var/lib/apt/lists', '/var/tmp'))
    assert result['mounts_left'] == []
    assert os.listdir(at(image, '/tmp')) == []
    assert os.path.getsize(at(image, '/var/log/seal-test.log')) == 0
    assert os.stat(at(image, '/var/lib/apt/lists')).st_mtime == 0


def test_a_second_run_is_not_changed(image):
    run_module({'root': str(image)})

    outcome, result = run_module({'root': str(image)})

    assert outcome == 'exit'
    assert result['changed'] is False
    assert result['removed'] == result['truncated'] == result['updated'] == []


def test_check_mode_reports_and_changes_nothing(image):
    before = tree(image)

    outcome, result = run_module({'root': str(image), '_ansible_check_mode': True})

    assert outcome == 'exit'
    assert result['changed'] is True
    assert at(image, '/root/.bash_history') in result['removed']
    assert tree(image) == before
    assert os.path.getsize(at(image, '/var/log/seal-test.log')) > 0


def test_diff_is_returned_only_in_diff_mode(image):
    outcome, result = run_module({'root': str(image), '_ansible_check_mode': True, '_ansible_diff': True})

    assert outcome == 'exit'
    assert at(image, '/root/.bash_history') + ' (file' in result['diff']['before']
    assert at(image, '/root/.bash_history') not in result['diff']['after']
    assert 'modified 1970-01-01T00:00:00Z' in result['diff']['after']
    assert 'diff' not in run_module({'root': str(image), '_ansible_check_mode': True})[1]


def test_options_choose_the_parts(image):
    outcome, result = run_module({
        'root': str(image), 'apt': False, 'logs': False, 'temporary_paths': ['/var/tmp'],
        'history_files': ['.zsh_history'], 'ssh_host_keys': False, 'machine_id': False, 'pycache_paths': [],
    })

    assert outcome == 'exit'
    assert result['removed'] == [at(image, '/var/tmp/leftover')]
    assert os.path.exists(at(image, '/root/.bash_history'))
    assert os.path.exists(at(image, '/tmp/packer-provisioner-ansible1234'))


def test_mount_points_are_left_and_reported(image, mounts):
    archives = at(image, '/var/cache/apt/archives')
    mounts.append(archives)

    outcome, result = run_module({'root': str(image)})

    assert outcome == 'exit'
    assert result['mounts_left'] == [archives]
    assert os.listdir(archives) == ['python3-apt_2.6.0_amd64.deb']


@pytest.mark.parametrize('args, message', [
    ({'temporary_paths': ['/']}, "temporary_paths: '/' would empty the whole image"),
    ({'temporary_paths': ['tmp']}, "temporary_paths: 'tmp' is not an absolute path"),
    ({'history_files': ['../.bash_history']}, "history_files: '../.bash_history' is not a file name"),
])
def test_bad_options_fail_with_a_message_and_change_nothing(image, args, message):
    before = tree(image)
    args['root'] = str(image)

    outcome, result = run_module(args)

    assert outcome == 'fail'
    assert result['msg'].startswith(message)
    assert tree(image) == before


def test_a_wrong_option_type_fails_before_anything_changes(image):
    before = tree(image)

    outcome, result = run_module({'root': str(image), 'apt': 'sometimes'})

    assert outcome == 'fail'
    assert 'apt' in result['msg']
    assert tree(image) == before


def test_a_missing_root_fails(tmp_path):
    outcome, result = run_module({'root': str(tmp_path / 'missing')})

    assert outcome == 'fail'
    assert result['msg'] == 'root: %s is not a directory' % (tmp_path / 'missing')


def test_defaults_match_the_image_seal_role(monkeypatch):
    seen = {}

    def fake_clean(root, options, check_mode, keep):
        seen.update(options, root=root, check_mode=check_mode)
        return {'changed': False, 'removed': [], 'truncated': [], 'emptied': [], 'created': [], 'updated': [],
                'mounts_left': [], 'diff': {}}

    monkeypatch.setattr(image_clean, 'clean', fake_clean)

    outcome, dummy = run_module({})

    assert outcome == 'exit'
    assert seen == {
        'root': '/', 'check_mode': False, 'apt': True, 'logs': True, 'temporary_paths': ['/tmp', '/var/tmp'],
        'history_files': ['.bash_history', '.sh_history', '.ash_history', '.zsh_history', '.python_history',
                          '.lesshst', '.viminfo', '.wget-hsts'],
        'ssh_host_keys': True, 'machine_id': True, 'pycache_paths': ['/root'],
    }


def test_history_files_default_is_the_role_default():
    with open(ROLE_DEFAULTS) as handle:
        defaults = yaml.safe_load(handle)

    assert image_clean_utils.DEFAULT_HISTORY_FILES == defaults['image_seal_history_files']

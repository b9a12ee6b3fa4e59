# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import image_clean as image_clean_utils
from ansible_collections.immutable.infra.plugins.module_utils.image_clean import (
    ImageCleanError,
    MountTable,
    clean,
    payload_folder,
    plan,
    read_mount_points,
)

from fs_snapshot import snapshot

PASSWD = (
    'root:x:0:0:root:/root:/bin/bash\n'
    'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'
    'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'
    'ops:x:1000:1000::/home/ops:/bin/bash\n'
    'svc:x:999:999::/srv/svc:/usr/sbin/nologin\n'
)


def write(root, path, content='leftover\n', mode=None):
    full = os.path.join(str(root), path.lstrip('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as handle:
        handle.write(content)
    if mode is not None:
        os.chmod(full, mode)
    return full


def mkdir(root, path, mode=None):
    full = os.path.join(str(root), path.lstrip('/'))
    os.makedirs(full, exist_ok=True)
    if mode is not None:
        os.chmod(full, mode)
    return full


def at(root, path):
    return os.path.join(str(root), path.lstrip('/'))


def entries(root, path):
    return sorted(os.listdir(at(root, path)))


OWNER = (os.getuid(), os.getgid())


def run(root, options=None, check_mode=False, mounts=(), **kwargs):
    """clean() with the tree's own mounts only (none by default) and the running user as owner."""
    kwargs.setdefault('owner', OWNER)
    return clean(str(root), options or {}, check_mode=check_mode, mounts=mounts, **kwargs)


@pytest.fixture
def image(tmp_path):
    """The dirt a bake leaves, as molecule/image_seal/prepare.yml plants it, plus apt's own files."""
    write(tmp_path, '/etc/passwd', PASSWD)
    write(tmp_path, '/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease', 'Origin: Debian\n')
    write(tmp_path, '/var/lib/apt/lists/lock', '')
    mkdir(tmp_path, '/var/lib/apt/lists/partial', 0o700)
    write(tmp_path, '/var/lib/apt/periodic/update-success-stamp', '')
    write(tmp_path, '/var/cache/apt/pkgcache.bin', 'cache')
    write(tmp_path, '/var/cache/apt/archives/python3-apt_2.6.0_amd64.deb', 'deb')
    mkdir(tmp_path, '/var/cache/apt/archives/partial')
    write(tmp_path, '/var/log/seal-test.log', 'Nov 26 15:11:00 bake: something happened\n', 0o640)
    write(tmp_path, '/var/log/apt/history.log', 'Start-Date: 2026-11-26\n')
    write(tmp_path, '/var/log/.hidden.log', 'hidden\n')
    write(tmp_path, '/var/log/lastlog', '')
    mkdir(tmp_path, '/tmp', 0o1777)
    mkdir(tmp_path, '/var/tmp', 0o1777)
    write(tmp_path, '/tmp/packer-provisioner-ansible1234/playbook.yml')
    mkdir(tmp_path, '/tmp/ansible-local-42')
    write(tmp_path, '/tmp/.hidden-leftover')
    write(tmp_path, '/var/tmp/leftover/file')
    write(tmp_path, '/root/.bash_history', 'apt-get install something\n')
    write(tmp_path, '/root/.python_history', 'import os\n')
    write(tmp_path, '/root/.profile', '# kept\n')
    write(tmp_path, '/home/ops/.bash_history', 'sudo -i\n')
    write(tmp_path, '/etc/ssh/ssh_host_rsa_key', 'key\n', 0o600)
    write(tmp_path, '/etc/ssh/ssh_host_rsa_key.pub', 'ssh-rsa AAAAfake root@bake\n')
    write(tmp_path, '/etc/ssh/sshd_config', 'PermitRootLogin no\n')
    write(tmp_path, '/etc/machine-id', '0123456789abcdef0123456789abcdef\n', 0o644)
    write(tmp_path, '/var/lib/dbus/machine-id', '0123456789abcdef0123456789abcdef\n')
    write(tmp_path, '/root/tools/tool.py', "print('tool')\n")
    write(tmp_path, '/root/tools/__pycache__/tool.cpython-311.pyc', 'byte code')
    write(tmp_path, '/root/.local/lib/deep/__pycache__/x.pyc', 'byte code')
    write(tmp_path, '/srv/app/__pycache__/app.pyc', 'byte code')
    return tmp_path


# Each part

def test_apt_folders_are_emptied_and_stay_with_their_mode(image):
    os.chmod(at(image, '/var/cache/apt'), 0o700)

    result = run(image)

    assert entries(image, '/var/lib/apt/lists') == []
    assert entries(image, '/var/cache/apt') == []
    for folder in ('/var/lib/apt/lists', '/var/cache/apt'):
        assert stat.S_IMODE(os.stat(at(image, folder)).st_mode) == 0o755
        assert at(image, folder) in result['emptied']
    assert at(image, '/var/cache/apt') in result['updated']
    assert at(image, '/var/cache/apt/archives') in result['removed']
    assert at(image, '/var/lib/apt/lists/partial') in result['removed']


def test_apt_lists_are_dated_1970_and_the_update_stamp_goes(image):
    result = run(image)

    lists = os.stat(at(image, '/var/lib/apt/lists'))
    assert lists.st_mtime == 0
    assert lists.st_atime > 0  # left as it was
    assert not os.path.lexists(at(image, '/var/lib/apt/periodic/update-success-stamp'))
    assert at(image, '/var/lib/apt/periodic/update-success-stamp') in result['removed']
    assert at(image, '/var/lib/apt/lists') in result['updated']


def test_missing_apt_folders_are_created_empty_and_dated(tmp_path):
    write(tmp_path, '/etc/passwd', PASSWD)

    result = run(tmp_path, {'machine_id': False})

    assert result['created'] == [at(tmp_path, '/var/cache/apt'), at(tmp_path, '/var/lib/apt/lists')]
    assert os.stat(at(tmp_path, '/var/lib/apt/lists')).st_mtime == 0
    assert stat.S_IMODE(os.stat(at(tmp_path, '/var/cache/apt')).st_mode) == 0o755
    assert run(tmp_path, {'machine_id': False})['changed'] is False


def test_an_empty_apt_lists_folder_is_only_dated(image):
    run(image)
    os.utime(at(image, '/var/lib/apt/lists'), (1800000000, 1800000000))

    result = run(image)

    assert result['changed'] is True
    assert result['updated'] == [at(image, '/var/lib/apt/lists')]
    assert result['removed'] == result['emptied'] == []
    assert os.stat(at(image, '/var/lib/apt/lists')).st_mtime == 0


def test_log_files_are_truncated_and_keep_their_mode(image):
    result = run(image)

    for log in ('/var/log/seal-test.log', '/var/log/apt/history.log', '/var/log/.hidden.log'):
        assert os.path.getsize(at(image, log)) == 0
    assert stat.S_IMODE(os.stat(at(image, '/var/log/seal-test.log')).st_mode) == 0o640
    assert result['truncated'] == sorted([at(image, '/etc/machine-id'), at(image, '/var/log/.hidden.log'),
                                          at(image, '/var/log/apt/history.log'), at(image, '/var/log/seal-test.log')])
    assert at(image, '/var/log/lastlog') not in result['truncated']


def test_a_symbolic_link_under_var_log_is_not_followed(image):
    target = write(image, '/srv/data.log', 'keep me\n')
    os.symlink(target, at(image, '/var/log/data.log'))

    run(image)

    assert os.path.getsize(target) == 8
    assert os.path.islink(at(image, '/var/log/data.log'))


def test_temporary_folders_are_emptied_and_keep_their_mode(image):
    result = run(image)

    assert entries(image, '/tmp') == []
    assert entries(image, '/var/tmp') == []
    assert stat.S_IMODE(os.stat(at(image, '/tmp')).st_mode) == 0o1777
    assert at(image, '/tmp/packer-provisioner-ansible1234') in result['removed']
    assert at(image, '/tmp/.hidden-leftover') in result['removed']
    assert at(image, '/var/tmp') in result['emptied']


def test_a_missing_temporary_folder_is_skipped(image):
    result = run(image, {'temporary_paths': ['/tmp', '/srv/cache']})

    assert not os.path.exists(at(image, '/srv/cache'))
    assert entries(image, '/var/tmp') == ['leftover']
    assert at(image, '/tmp') in result['emptied']


def test_history_files_go_from_every_home_in_passwd(image):
    target = write(image, '/srv/shared-history', 'keep me\n')
    mkdir(image, '/srv/svc')
    os.symlink(target, at(image, '/srv/svc/.zsh_history'))
    mkdir(image, '/home/ops/.viminfo')

    result = run(image)

    for path in ('/root/.bash_history', '/root/.python_history', '/home/ops/.bash_history', '/srv/svc/.zsh_history'):
        assert not os.path.lexists(at(image, path)), path
        assert at(image, path) in result['removed']
    assert os.path.exists(target)
    assert os.path.isdir(at(image, '/home/ops/.viminfo'))
    assert os.path.exists(at(image, '/root/.profile'))


def test_history_files_use_the_given_names_and_homes(image):
    result = run(image, {'history_files': ['.python_history']}, homes=['/root', '', 'relative/home'])

    assert not os.path.exists(at(image, '/root/.python_history'))
    assert os.path.exists(at(image, '/root/.bash_history'))
    assert os.path.exists(at(image, '/home/ops/.bash_history'))
    assert at(image, '/root/.python_history') in result['removed']


def test_no_history_files_keeps_them_all(image):
    run(image, {'history_files': []})

    assert os.path.exists(at(image, '/root/.bash_history'))


def test_ssh_host_keys_go_up_to_two_levels_under_etc(image):
    write(image, '/etc/ssh_host_stray_key')
    write(image, '/etc/deep/er/ssh_host_ed25519_key')

    result = run(image)

    assert entries(image, '/etc/ssh') == ['sshd_config']
    assert not os.path.exists(at(image, '/etc/ssh_host_stray_key'))
    assert os.path.exists(at(image, '/etc/deep/er/ssh_host_ed25519_key'))
    assert at(image, '/etc/ssh/ssh_host_rsa_key.pub') in result['removed']


def test_machine_id_is_emptied_read_only_and_dbus_copy_removed(image):
    result = run(image)

    machine_id = os.stat(at(image, '/etc/machine-id'))
    assert machine_id.st_size == 0
    assert stat.S_IMODE(machine_id.st_mode) == 0o444
    assert not os.path.lexists(at(image, '/var/lib/dbus/machine-id'))
    assert at(image, '/etc/machine-id') in result['updated']


def test_missing_machine_id_is_created_empty(image):
    os.unlink(at(image, '/etc/machine-id'))

    result = run(image)

    assert os.path.getsize(at(image, '/etc/machine-id')) == 0
    assert stat.S_IMODE(os.stat(at(image, '/etc/machine-id')).st_mode) == 0o444
    assert result['created'] == [at(image, '/etc/machine-id')]


def test_machine_id_owner_is_set_to_the_wanted_owner(image, monkeypatch):
    chowned = []
    monkeypatch.setattr(image_clean_utils.os, 'chown', lambda path, uid, gid: chowned.append((path, uid, gid)))

    result = run(image, owner=(0, 4242))

    assert (at(image, '/etc/machine-id'), 0, 4242) in chowned
    assert (at(image, '/var/lib/apt/lists'), 0, 4242) in chowned
    assert at(image, '/etc/machine-id') in result['updated']


def test_pycache_folders_go_under_root_only(image):
    result = run(image)

    assert not os.path.exists(at(image, '/root/tools/__pycache__'))
    assert not os.path.exists(at(image, '/root/.local/lib/deep/__pycache__'))
    assert os.path.exists(at(image, '/root/tools/tool.py'))
    assert os.path.exists(at(image, '/srv/app/__pycache__/app.pyc'))
    assert at(image, '/root/tools/__pycache__') in result['removed']


def test_parts_can_be_turned_off(image):
    before = snapshot(image)

    result = run(image, {'apt': False, 'logs': False, 'temporary_paths': [], 'history_files': [],
                         'ssh_host_keys': False, 'machine_id': False, 'pycache_paths': []})

    assert result['changed'] is False
    assert snapshot(image) == before


# Check mode, idempotence, diff

def test_check_mode_changes_nothing_and_reports_the_same_as_a_real_run(image):
    before = snapshot(image)

    checked = run(image, check_mode=True)

    assert snapshot(image) == before
    assert checked['changed'] is True
    applied = run(image)
    assert applied == checked


def test_a_second_run_changes_nothing(image):
    assert run(image)['changed'] is True
    after_first = snapshot(image)

    second = run(image)

    assert second['changed'] is False
    assert all(second[key] == [] for key in ('removed', 'truncated', 'emptied', 'created', 'updated'))
    assert second['diff']['before'] == second['diff']['after'] == ''
    assert snapshot(image) == after_first
    assert run(image, check_mode=True)['changed'] is False


def test_diff_lists_what_goes_and_what_changes(image):
    result = run(image, check_mode=True)

    before = result['diff']['before'].splitlines()
    after = result['diff']['after'].splitlines()
    assert '%s (file, size 33, mode 0644, owner %d:%d)' % ((at(image, '/etc/machine-id'),) + OWNER) in before
    assert '%s (file, size 0, mode 0444, owner %d:%d)' % ((at(image, '/etc/machine-id'),) + OWNER) in after
    assert '%s (directory, mode 0755, owner %d:%d, modified 1970-01-01T00:00:00Z)' % (
        (at(image, '/var/lib/apt/lists'),) + OWNER) in after
    assert any(line.startswith(at(image, '/root/.bash_history') + ' (file') for line in before)
    assert not any(line.startswith(at(image, '/root/.bash_history')) for line in after)


# Mount points

def test_a_mounted_apt_archive_is_left_and_the_rest_emptied(image):
    archives = at(image, '/var/cache/apt/archives')

    result = run(image, mounts=[archives])

    assert entries(image, '/var/cache/apt') == ['archives']
    assert sorted(os.listdir(archives)) == ['partial', 'python3-apt_2.6.0_amd64.deb']
    assert result['mounts_left'] == [archives]
    assert archives not in result['removed']
    assert at(image, '/var/cache/apt/pkgcache.bin') in result['removed']
    assert run(image, mounts=[archives])['changed'] is False


def test_a_mounted_apt_lists_folder_is_neither_emptied_nor_dated(image):
    lists = at(image, '/var/lib/apt/lists')
    os.utime(lists, (1800000000, 1800000000))
    os.chmod(lists, 0o700)

    result = run(image, mounts=[lists])

    info = os.stat(lists)
    assert 'deb.debian.org_debian_dists_bookworm_InRelease' in os.listdir(lists)
    assert info.st_mtime == 1800000000
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert result['mounts_left'] == [lists]
    assert lists not in result['emptied'] + result['updated']
    assert entries(image, '/var/cache/apt') == []


def test_a_mount_deep_in_a_temporary_folder_keeps_only_the_way_to_it(image):
    mount = mkdir(image, '/tmp/build/cache/pip')
    write(image, '/tmp/build/cache/pip/wheel.whl')
    write(image, '/tmp/build/cache/other')
    write(image, '/tmp/build/notes')

    result = run(image, mounts=[mount])

    assert entries(image, '/tmp') == ['build']
    assert entries(image, '/tmp/build') == ['cache']
    assert entries(image, '/tmp/build/cache') == ['pip']
    assert os.listdir(mount) == ['wheel.whl']
    assert result['mounts_left'] == [mount]
    assert at(image, '/tmp') in result['emptied']
    assert at(image, '/tmp/build') not in result['removed']


def test_a_mounted_temporary_folder_is_not_emptied(image):
    result = run(image, mounts=[at(image, '/var/tmp')])

    assert entries(image, '/var/tmp') == ['leftover']
    assert entries(image, '/tmp') == []
    assert result['mounts_left'] == [at(image, '/var/tmp')]


def test_mounts_under_var_log_are_not_entered_nor_truncated(image):
    journal = write(image, '/var/log/journal/system.journal', 'journal')
    mounted_log = at(image, '/var/log/seal-test.log')

    result = run(image, mounts=[os.path.dirname(journal), mounted_log])

    assert os.path.getsize(journal) == 7
    assert os.path.getsize(mounted_log) > 0
    assert os.path.getsize(at(image, '/var/log/apt/history.log')) == 0
    assert result['mounts_left'] == sorted([os.path.dirname(journal), mounted_log])


def test_files_in_a_mounted_home_or_mounted_files_are_left(image):
    home = at(image, '/home/ops')
    machine_id = at(image, '/etc/machine-id')

    result = run(image, mounts=[home, machine_id])

    assert os.path.exists(at(image, '/home/ops/.bash_history'))
    assert os.path.getsize(machine_id) > 0
    assert stat.S_IMODE(os.stat(machine_id).st_mode) == 0o644
    assert not os.path.exists(at(image, '/root/.bash_history'))
    assert not os.path.lexists(at(image, '/var/lib/dbus/machine-id'))
    assert result['mounts_left'] == sorted([home, machine_id])


def test_mounts_that_hold_nothing_to_clean_are_not_reported(image):
    mounted_config = at(image, '/etc/ssh/sshd_config')
    mounted_tools = mkdir(image, '/root/mounted-tools')

    result = run(image, mounts=[mounted_config, mounted_tools, at(image, '/etc/hosts')])

    assert result['mounts_left'] == []


def test_mounts_at_or_above_the_root_do_not_stop_the_cleaning(image):
    result = run(image, mounts=['/', str(image), os.path.dirname(str(image))])

    assert result['mounts_left'] == []
    assert entries(image, '/tmp') == []
    assert entries(image, '/var/lib/apt/lists') == []


def test_the_module_payload_in_a_temporary_folder_is_left_alone(image):
    payload = mkdir(image, '/tmp/ansible_immutable.infra.image_clean_payload_x1y2')
    write(image, '/tmp/ansible_immutable.infra.image_clean_payload_x1y2/payload.zip', 'zip')

    result = run(image, keep=[payload])

    assert entries(image, '/tmp') == ['ansible_immutable.infra.image_clean_payload_x1y2']
    assert payload not in result['removed'] + result['mounts_left']
    assert run(image, keep=[payload])['changed'] is False


def test_payload_folder_is_the_folder_of_the_zip_the_code_runs_from(tmp_path):
    archive = write(tmp_path, '/ansible_image_clean_payload_abc/ansible_image_clean_payload.zip', 'zip')
    inside = os.path.join(archive, 'ansible_collections/immutable/infra/plugins/module_utils/image_clean.py')

    assert payload_folder(inside) == os.path.dirname(archive)
    assert payload_folder(image_clean_utils.__file__) is None


def test_read_mount_points_decodes_mountinfo(tmp_path):
    mountinfo = write(tmp_path, '/mountinfo', (
        '22 1 0:21 / / rw,relatime - overlay overlay rw\n'
        '31 22 8:1 /cache /var/cache/apt/archives rw,relatime - ext4 /dev/sda1 rw\n'
        '32 22 8:1 /odd /srv/with\\040space rw - ext4 /dev/sda1 rw\n'
        '33 22 0:5 / /etc/hosts rw - ext4 /dev/sda1 rw\n'
    ))

    assert read_mount_points(mountinfo) == {'/', '/var/cache/apt/archives', '/srv/with space', '/etc/hosts'}
    assert read_mount_points(at(tmp_path, '/missing')) is None


def test_the_default_mount_table_is_the_running_system(image, monkeypatch):
    archives = at(image, '/var/cache/apt/archives')
    monkeypatch.setattr(image_clean_utils, 'read_mount_points', lambda mountinfo=None: {'/', archives})

    result = clean(str(image), {}, check_mode=True, owner=OWNER)

    assert result['mounts_left'] == [archives]


def test_without_mountinfo_mount_points_come_from_ismount(image, monkeypatch):
    archives = at(image, '/var/cache/apt/archives')
    real_ismount = os.path.ismount
    monkeypatch.setattr(image_clean_utils.os.path, 'ismount', lambda path: path == archives or real_ismount(path))
    table = MountTable(None)

    assert table.is_mount(archives)
    assert table.has_mount_below(at(image, '/var/cache'))
    assert not table.has_mount_below(at(image, '/var/log'))
    result = run(image, mounts=table)
    assert result['mounts_left'] == [archives]
    assert os.path.exists(os.path.join(archives, 'python3-apt_2.6.0_amd64.deb'))


# Bad input: refused before anything changes

@pytest.mark.parametrize('options, message', [
    ({'temporary_paths': ['/']}, "temporary_paths: '/' would empty the whole image"),
    ({'temporary_paths': ['tmp']}, "temporary_paths: 'tmp' is not an absolute path"),
    ({'pycache_paths': ['root']}, "pycache_paths: 'root' is not an absolute path"),
    ({'temporary_paths': '/tmp'}, 'temporary_paths: must be a list of strings'),
    ({'history_files': ['.config/history']}, "history_files: '.config/history' is not a file name"),
    ({'history_files': ['..']}, "history_files: '..' is not a file name"),
    ({'apt': 'yes'}, "apt: must be true or false, got 'yes'"),
    ({'log': True}, 'unknown option(s) log'),
])
def test_bad_options_are_refused_before_anything_changes(image, options, message):
    before = snapshot(image)

    with pytest.raises(ImageCleanError) as error:
        run(image, options)

    assert str(error.value).startswith(message)
    assert snapshot(image) == before


def test_a_root_that_is_not_a_folder_is_refused(tmp_path):
    with pytest.raises(ImageCleanError, match='root: .*missing is not a directory'):
        plan(str(tmp_path / 'missing'), {}, mounts=[])
    with pytest.raises(ImageCleanError, match="root: 'relative' is not an absolute path"):
        plan('relative', {}, mounts=[])


def test_a_folder_at_the_machine_id_path_fails_before_anything_changes(image):
    os.unlink(at(image, '/etc/machine-id'))
    mkdir(image, '/etc/machine-id')
    before = snapshot(image)

    with pytest.raises(ImageCleanError, match='/etc/machine-id is not a regular file; remove it'):
        run(image)

    assert snapshot(image) == before


def test_a_file_at_an_apt_folder_path_fails_before_anything_changes(image):
    os.unlink(at(image, '/var/cache/apt/pkgcache.bin'))
    os.rename(at(image, '/var/cache/apt'), at(image, '/var/cache/apt.old'))
    write(image, '/var/cache/apt', 'not a folder')
    before = snapshot(image)

    with pytest.raises(ImageCleanError, match='/var/cache/apt is not a directory'):
        run(image)

    assert snapshot(image) == before


def test_a_failing_action_names_the_path_and_the_progress(image, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise PermissionError(1, 'Operation not permitted', path)

    monkeypatch.setattr(image_clean_utils.os, 'truncate', refuse)

    with pytest.raises(ImageCleanError) as error:
        run(image)

    message = str(error.value)
    assert message.startswith('cannot truncate %s: Operation not permitted (' % at(image, '/var/log/.hidden.log'))
    assert 'changes were made; fix the cause and run it again)' in message


def test_plan_returns_the_actions_and_apply_runs_them(image):
    planned = plan(str(image), {'apt': False, 'logs': False, 'temporary_paths': [], 'ssh_host_keys': False,
                                'machine_id': False, 'pycache_paths': []}, mounts=[], owner=OWNER)

    assert [(action.kind, action.path) for action in planned.actions] == [
        ('remove', at(image, '/home/ops/.bash_history')),
        ('remove', at(image, '/root/.bash_history')),
        ('remove', at(image, '/root/.python_history')),
    ]
    assert os.path.exists(at(image, '/root/.bash_history'))
    image_clean_utils.apply(planned.actions, owner=OWNER)
    assert not os.path.exists(at(image, '/root/.bash_history'))

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import grp
import os
import pwd
import stat
import sys

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.image_files import (
    DIFF_MAX_BYTES,
    ImageFilesError,
    plan,
    put,
)

from fs_snapshot import snapshot

# The running user's IDs: the tests run unprivileged too, and only root may give a path to someone else.
UID = os.getuid()
GID = os.getgid()

# A validate command that passes when the file it is given holds the word "valid" on a line of its own.
CHECK = "%s -c \"import sys; sys.exit(0 if 'valid' in open(sys.argv[1]).read().split() else 3)\" %%s" % sys.executable


def at(root, path):
    return os.path.join(str(root), path.lstrip('/'))


def write(root, path, content='old\n', mode=0o644):
    full = at(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'w') as handle:
        handle.write(content)
    os.chmod(full, mode)
    return full


def read(path):
    with open(path) as handle:
        return handle.read()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def folder(path, mode='0755', owner=UID, group=GID):
    return {'path': path, 'owner': owner, 'group': group, 'mode': mode}


def a_file(path, content, mode='0644', owner=UID, group=GID, validate=None):
    item = {'path': path, 'content': content, 'owner': owner, 'group': group, 'mode': mode}
    if validate is not None:
        item['validate'] = validate
    return item


@pytest.fixture
def site(tmp_path):
    """A tree like an nginx install: a configuration, a default site, a temporary folder, no document root."""
    write(tmp_path, '/etc/nginx/nginx.conf', 'packaged\n')
    write(tmp_path, '/etc/nginx/sites-available/default', 'server {}\n')
    os.makedirs(at(tmp_path, '/etc/nginx/sites-enabled'))
    os.symlink('../sites-available/default', at(tmp_path, '/etc/nginx/sites-enabled/default'))
    os.makedirs(at(tmp_path, '/var/lib/nginx'))
    os.makedirs(at(tmp_path, '/var/www'))
    return tmp_path


def site_items(root, mode='0700', page='<h1>web</h1>\n', config='valid\n'):
    return {
        'directories': [folder(at(root, '/var/www/webapp'))]
        + [folder(at(root, '/var/lib/nginx/' + name), mode=mode) for name in ('body', 'proxy', 'scgi')],
        'files': [
            a_file(at(root, '/var/www/webapp/index.html'), page),
            a_file(at(root, '/etc/nginx/nginx.conf'), config, validate=CHECK),
        ],
        'absent': [at(root, '/etc/nginx/sites-enabled/default')],
    }


def test_puts_folders_and_files_into_place_and_removes_the_absent_paths(site):
    result = put(**site_items(site))

    assert result['changed'] is True
    assert result['changed_paths'] == sorted(at(site, path) for path in (
        '/etc/nginx/nginx.conf', '/etc/nginx/sites-enabled/default', '/var/lib/nginx/body', '/var/lib/nginx/proxy',
        '/var/lib/nginx/scgi', '/var/www/webapp', '/var/www/webapp/index.html'))
    assert mode_of(at(site, '/var/lib/nginx/body')) == 0o700
    assert mode_of(at(site, '/var/www/webapp')) == 0o755
    assert read(at(site, '/var/www/webapp/index.html')) == '<h1>web</h1>\n'
    assert read(at(site, '/etc/nginx/nginx.conf')) == 'valid\n'
    assert mode_of(at(site, '/etc/nginx/nginx.conf')) == 0o644
    assert not os.path.lexists(at(site, '/etc/nginx/sites-enabled/default'))
    # The link went, not what it pointed to.
    assert read(at(site, '/etc/nginx/sites-available/default')) == 'server {}\n'
    assert [(item['state'], item['changes']) for item in result['files']] == [('created', []), ('updated', ['content'])]
    assert [item['state'] for item in result['directories']] == ['created'] * 4
    assert result['directories'][1] == {'path': at(site, '/var/lib/nginx/body'), 'state': 'created', 'changes': [],
                                        'owner': UID, 'group': GID, 'mode': '0700'}
    assert result['absent'] == [{'path': at(site, '/etc/nginx/sites-enabled/default'), 'state': 'removed',
                                 'type': 'link'}]


def test_a_second_run_changes_nothing(site):
    put(**site_items(site))
    before = snapshot(site)

    result = put(**site_items(site))

    assert result['changed'] is False
    assert result['changed_paths'] == []
    assert result['diff'] == []
    assert {item['state'] for item in result['directories'] + result['files']} == {'unchanged'}
    assert result['absent'][0]['state'] == 'absent' and result['absent'][0]['type'] is None
    assert snapshot(site) == before


def test_check_mode_reports_the_changes_and_changes_nothing(site):
    before = snapshot(site)
    # The validate command would fail: check mode does not run it.
    items = site_items(site, config='broken\n')

    result = put(check_mode=True, **items)

    assert result['changed'] is True
    assert at(site, '/var/www/webapp/index.html') in result['changed_paths']
    assert result['files'][1]['state'] == 'updated'
    assert snapshot(site) == before


def test_check_mode_after_a_run_reports_no_change(site):
    put(**site_items(site))

    result = put(check_mode=True, **site_items(site))

    assert result['changed'] is False


def test_a_new_content_replaces_the_file_in_one_rename(site):
    path = at(site, '/etc/nginx/nginx.conf')
    old_inode = os.stat(path).st_ino

    put(files=[a_file(path, 'valid\nnew\n', validate=CHECK)])

    assert read(path) == 'valid\nnew\n'
    assert os.stat(path).st_ino != old_inode
    assert sorted(os.listdir(at(site, '/etc/nginx'))) == ['nginx.conf', 'sites-available', 'sites-enabled']


def test_the_validate_command_checks_a_temporary_file_beside_the_destination(site, tmp_path_factory):
    seen = tmp_path_factory.mktemp('seen') / 'seen'
    path = at(site, '/etc/nginx/nginx.conf')
    record = ('%s -c "import os, shutil, stat, sys; shutil.copy(sys.argv[1], sys.argv[2]); '
              'print(os.path.dirname(sys.argv[1]), oct(stat.S_IMODE(os.stat(sys.argv[1]).st_mode)))" %%s %s'
              % (sys.executable, seen))

    put(files=[a_file(path, 'checked\n', mode='0640', validate=record)])

    assert read(str(seen)) == 'checked\n'
    assert read(path) == 'checked\n'


def test_a_failed_validation_leaves_the_old_file_untouched(site):
    path = at(site, '/etc/nginx/nginx.conf')
    page = at(site, '/var/www/webapp/index.html')
    before = os.stat(path)
    items = site_items(site, config='broken\n')

    with pytest.raises(ImageFilesError) as caught:
        put(**items)

    message = str(caught.value)
    assert message.startswith('files[1] (%s): the new content failed validation, the file was left as it was: '
                              % path)
    assert 'exited with 3' in message
    assert read(path) == 'packaged\n'
    assert os.stat(path).st_ino == before.st_ino
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    assert sorted(os.listdir(at(site, '/etc/nginx'))) == ['nginx.conf', 'sites-available', 'sites-enabled']
    # What came before the failing file stays done, and the error says so.
    assert read(page) == '<h1>web</h1>\n'
    assert page in caught.value.changed_paths
    assert path not in caught.value.changed_paths


def test_the_output_of_a_failed_validation_is_in_the_message(site):
    path = at(site, '/etc/nginx/nginx.conf')
    complain = '%s -c "import sys; sys.stderr.write(\'line 3: unknown directive\\n\'); sys.exit(1)" %%s' % sys.executable

    with pytest.raises(ImageFilesError) as caught:
        put(files=[a_file(path, 'anything\n', validate=complain)])

    assert str(caught.value).endswith('exited with 1: line 3: unknown directive (0 of 1 paths were changed before it)')
    assert read(path) == 'packaged\n'


def test_a_validate_command_that_cannot_run_leaves_the_old_file(site):
    path = at(site, '/etc/nginx/nginx.conf')

    with pytest.raises(ImageFilesError) as caught:
        put(files=[a_file(path, 'anything\n', validate='/nonexistent/checker %s')])

    assert 'cannot run the validate command /nonexistent/checker' in str(caught.value)
    assert read(path) == 'packaged\n'
    assert sorted(os.listdir(at(site, '/etc/nginx'))) == ['nginx.conf', 'sites-available', 'sites-enabled']


def test_validate_runs_only_when_the_content_changes(site):
    path = at(site, '/etc/nginx/nginx.conf')
    put(files=[a_file(path, 'valid\n', validate=CHECK)])

    # Same content, a new mode: the file is not written again, so a failing check does not matter.
    result = put(files=[a_file(path, 'valid\n', mode='0600', validate='false %s')])

    assert result['files'][0]['changes'] == ['mode']
    assert mode_of(path) == 0o600


def test_a_mode_change_alone_keeps_the_file(site):
    path = at(site, '/etc/nginx/nginx.conf')
    inode = os.stat(path).st_ino

    result = put(files=[a_file(path, 'packaged\n', mode='0640')])

    assert result['files'][0]['state'] == 'updated'
    assert result['files'][0]['changes'] == ['mode']
    assert os.stat(path).st_ino == inode
    assert mode_of(path) == 0o640


def test_existing_folders_get_their_mode_and_keep_what_they_hold(site):
    nginx = at(site, '/var/lib/nginx')
    write(site, '/var/lib/nginx/body/00001', 'request\n')
    os.chmod(at(site, '/var/lib/nginx/body'), 0o2775)

    result = put(directories=[folder(nginx + '/body', mode='0700')])

    assert result['directories'][0]['state'] == 'updated'
    assert result['directories'][0]['changes'] == ['mode']
    assert mode_of(nginx + '/body') == 0o700
    assert os.listdir(nginx + '/body') == ['00001']


def test_missing_parents_are_created_with_the_folder_attributes(tmp_path):
    deep = at(tmp_path, '/srv/site/www')

    result = put(directories=[folder(deep, mode='0750')])

    assert result['changed_paths'] == [at(tmp_path, '/srv'), at(tmp_path, '/srv/site'), deep]
    assert mode_of(at(tmp_path, '/srv')) == mode_of(at(tmp_path, '/srv/site')) == mode_of(deep) == 0o750


def test_a_listed_parent_keeps_its_own_attributes_whatever_the_order(tmp_path):
    parent = at(tmp_path, '/srv')

    result = put(directories=[folder(parent + '/child', mode='0700'), folder(parent, mode='0755')])

    assert mode_of(parent) == 0o755
    assert mode_of(parent + '/child') == 0o700
    assert [item['path'] for item in result['directories']] == [parent + '/child', parent]


def test_files_go_into_folders_created_in_the_same_run(tmp_path):
    page = at(tmp_path, '/srv/www/index.html')

    result = put(directories=[folder(at(tmp_path, '/srv/www'))], files=[a_file(page, 'hello\n')])

    assert read(page) == 'hello\n'
    assert result['files'][0]['state'] == 'created'


def test_a_link_at_a_file_path_is_replaced_by_the_file(tmp_path):
    target = write(tmp_path, '/elsewhere/real.conf', 'kept\n')
    path = at(tmp_path, '/etc/app.conf')
    os.makedirs(os.path.dirname(path))
    os.symlink(target, path)

    result = put(files=[a_file(path, 'new\n')])

    assert result['files'][0]['changes'] == ['type', 'content']
    assert not os.path.islink(path)
    assert read(path) == 'new\n'
    assert read(target) == 'kept\n'


def test_a_link_to_a_folder_stands_for_the_folder(tmp_path):
    real = at(tmp_path, '/data/cache')
    os.makedirs(real)
    os.chmod(real, 0o755)
    link = at(tmp_path, '/var/cache')
    os.makedirs(os.path.dirname(link))
    os.symlink(real, link)

    put(directories=[folder(link, mode='0700')])

    assert os.path.islink(link)
    assert mode_of(real) == 0o700


def test_absent_removes_files_links_and_folders(tmp_path):
    old = write(tmp_path, '/srv/old.txt')
    tree = write(tmp_path, '/srv/cache/deep/a.bin')
    link = at(tmp_path, '/srv/link')
    os.symlink(tree, link)

    result = put(absent=[old, at(tmp_path, '/srv/cache'), link, at(tmp_path, '/srv/never')])

    assert [(item['state'], item['type']) for item in result['absent']] == [
        ('removed', 'file'), ('removed', 'directory'), ('removed', 'link'), ('absent', None)]
    assert os.listdir(at(tmp_path, '/srv')) == []


def test_names_and_numeric_ids_are_accepted(tmp_path):
    try:
        user = pwd.getpwuid(UID).pw_name
        group = grp.getgrgid(GID).gr_name
    except KeyError:
        pytest.skip('the running user or group has no name')
    items = [
        folder(at(tmp_path, '/a'), owner=user, group=group),
        folder(at(tmp_path, '/b'), owner=str(UID), group=str(GID)),
    ]

    result = put(directories=items)

    assert [(item['owner'], item['group']) for item in result['directories']] == [(UID, GID), (UID, GID)]
    assert put(directories=items)['changed'] is False


def test_owner_and_group_are_enforced(tmp_path):
    path = write(tmp_path, '/etc/app.conf', 'same\n')
    other = 1 if GID != 1 else 2
    # Planning against a wanted group the file does not have: the plan says so (without changing it).
    result = plan(files=[a_file(path, 'same\n', group=other)]).result()

    assert result['files'][0]['changes'] == ['group']


def test_the_diff_shows_contents_and_path_states(site):
    put(**site_items(site))
    items = site_items(site, mode='0750', page='<h1>web 2</h1>\n')
    items['absent'] = [at(site, '/etc/nginx/sites-available/default')]

    diffs = put(check_mode=True, **items)['diff']

    page = at(site, '/var/www/webapp/index.html')
    assert diffs[0] == {'before_header': page, 'after_header': page, 'before': '<h1>web</h1>\n',
                        'after': '<h1>web 2</h1>\n'}
    summary = diffs[-1]
    assert len(diffs) == 2
    assert '%s (file, 10 bytes, mode 0644, owner %d, group %d)' % (
        at(site, '/etc/nginx/sites-available/default'), UID, GID) in summary['before']
    assert '%s (directory, mode 0700, owner %d, group %d)' % (at(site, '/var/lib/nginx/body'), UID, GID) \
        in summary['before']
    assert '%s (directory, mode 0750, owner %d, group %d)' % (at(site, '/var/lib/nginx/body'), UID, GID) \
        in summary['after']
    assert 'sites-available' not in summary['after']


def test_the_diff_of_a_new_file_starts_from_nothing(tmp_path):
    path = at(tmp_path, '/app.conf')

    diffs = put(files=[a_file(path, 'hello\n')], check_mode=True)['diff']

    assert diffs[0] == {'before_header': path + ' (missing)', 'after_header': path, 'before': '', 'after': 'hello\n'}


def test_large_and_binary_contents_are_not_shown_in_the_diff(tmp_path):
    binary = write(tmp_path, '/bin.dat', 'x')
    with open(binary, 'wb') as handle:
        handle.write(b'\xff\xfe\x00')
    large = at(tmp_path, '/large.txt')

    diffs = put(check_mode=True, files=[a_file(binary, 'text\n'), a_file(large, 'y' * (DIFF_MAX_BYTES + 1))])['diff']

    assert diffs[0]['before'] == '(3 bytes of binary content: not shown)\n'
    assert diffs[1]['after'] == '(%d bytes, larger than %d: not shown)\n' % (DIFF_MAX_BYTES + 1, DIFF_MAX_BYTES)


def unknown_user(name):
    raise KeyError(name)


def bad_items(root):
    """``(arguments, start of the message)`` for wrong items, with their paths under ``root``."""
    www = at(root, '/srv/www')
    page = at(root, '/srv/a')
    return [
        ({'directories': [folder('srv/www')]}, "directories[0] (srv/www): 'srv/www' is not an absolute path"),
        ({'directories': [folder(www, mode=0o755)]},
         "directories[0] (%s): mode must be a quoted octal string such as '0644', got the number 493" % www),
        ({'files': [a_file(page, 'x', mode=644)]},
         "files[0] (%s): mode must be a quoted octal string such as '0644', got the number 644" % page),
        ({'files': [a_file(page, 'x', mode='u=rw')]},
         "files[0] (%s): mode must be an octal string of 3 or 4 digits such as '0644' or '2775', got 'u=rw'" % page),
        ({'files': [a_file(page, 'x', mode='0649')]}, 'files[0] (%s): mode must be an octal string' % page),
        ({'files': [a_file(page, 'x', mode=None)]}, 'files[0] (%s): missing mode' % page),
        ({'directories': [folder(www, owner='no-such-user-h9')]},
         "directories[0] (%s): owner 'no-such-user-h9': no such user on the target" % www),
        ({'directories': [folder(www, group='no-such-group-h9')]},
         "directories[0] (%s): group 'no-such-group-h9': no such group on the target" % www),
        ({'directories': [folder(www, owner=True)]},
         'directories[0] (%s): owner must be a name or a numeric ID, got True' % www),
        ({'directories': [folder(www, group=-1)]}, 'directories[0] (%s): group -1 is not a valid numeric ID' % www),
        ({'directories': [dict(folder(www), recurse=True)]},
         'directories[0] (%s): unknown key(s) recurse; the keys are path, owner, group, mode' % www),
        ({'directories': [www]}, 'directories[0]: must be a dictionary with path, owner, group, mode'),
        ({'files': [a_file(page, {'name': 'web'})]}, 'files[0] (%s): content must be a string, got dict' % page),
        ({'files': [a_file(page, 'x', validate='nginx -t -c')]},
         "files[0] (%s): validate 'nginx -t -c' must contain %%s" % page),
        ({'files': [a_file(page, 'x', validate='check "%s')]},
         "files[0] (%s): validate 'check \"%%s' cannot be split into arguments" % page),
        ({'files': [a_file('/', 'x')]}, 'files[0] (/): / is a folder, not a file'),
        ({'absent': ['/']}, 'absent[0] (/): / cannot be removed'),
        ({'absent': ['relative']}, "absent[0] (relative): 'relative' is not an absolute path"),
        ({'files': [], 'absent': page}, "absent: must be a list, got '%s'" % page),
        ({'directories': [folder(www)], 'files': [a_file(www + '/', 'x')]},
         'files[0] (%s): %s is listed twice (also as directories[0] (%s)); give each path once' % (www, www, www)),
        ({'directories': [folder(www + '/cache')], 'absent': [www]},
         'absent[0] (%s): removing %s would remove directories[0] (%s/cache)' % (www, www, www)),
        ({'directories': [folder(www + '/cache')], 'files': [a_file(www, 'x')]},
         'files[0] (%s): %s is a file, so directories[0] (%s/cache) cannot be below it' % (www, www, www)),
    ]


BAD_CASES = range(len(bad_items('/')))


@pytest.mark.parametrize('case', BAD_CASES)
def test_a_wrong_item_fails_naming_it_and_changes_nothing(site, case):
    args, message = bad_items(site)[case]
    # A valid item after the wrong one, to show that nothing at all is done.
    args.setdefault('directories', []).append(folder(at(site, '/var/www/webapp')))
    before = snapshot(site)

    with pytest.raises(ImageFilesError) as caught:
        put(**args)

    assert str(caught.value).startswith(message)
    assert caught.value.changed_paths == []
    assert snapshot(site) == before


@pytest.mark.parametrize('case', BAD_CASES)
def test_wrong_items_are_refused_before_looking_up_names_or_the_tree(case):
    args, message = bad_items('/nonexistent')[case]
    if 'no such' in message:
        looked_up = []
        with pytest.raises(ImageFilesError):
            plan(user_id=lambda name: looked_up.append(name) or unknown_user(name),
                 group_id=lambda name: looked_up.append(name) or unknown_user(name), **args)
        assert looked_up
        return

    with pytest.raises(ImageFilesError) as caught:
        plan(user_id=unknown_user, group_id=unknown_user, **args)

    assert str(caught.value).startswith(message)


def test_a_folder_where_a_file_goes_fails_before_anything_changes(site):
    before = snapshot(site)
    items = site_items(site)
    items['files'].append(a_file(at(site, '/etc/nginx/sites-enabled'), 'x'))

    with pytest.raises(ImageFilesError) as caught:
        put(**items)

    assert str(caught.value) == 'files[2] (%s): %s exists and is a folder, not a file; remove it first' % (
        at(site, '/etc/nginx/sites-enabled'), at(site, '/etc/nginx/sites-enabled'))
    assert snapshot(site) == before


def test_a_file_where_a_folder_goes_fails_before_anything_changes(site):
    before = snapshot(site)
    items = site_items(site)
    items['directories'].append(folder(at(site, '/etc/nginx/sites-available/default')))

    with pytest.raises(ImageFilesError) as caught:
        put(**items)

    assert 'exists and is a file, not a folder' in str(caught.value)
    assert snapshot(site) == before


def test_a_file_in_a_missing_folder_fails_before_anything_changes(site):
    before = snapshot(site)
    items = site_items(site)
    items['files'].append(a_file(at(site, '/srv/app/app.conf'), 'x'))

    with pytest.raises(ImageFilesError) as caught:
        put(**items)

    assert str(caught.value) == 'files[2] (%s): the folder %s does not exist; add it to directories' % (
        at(site, '/srv/app/app.conf'), at(site, '/srv/app'))
    assert snapshot(site) == before


def test_a_folder_below_a_file_fails_before_anything_changes(site):
    before = snapshot(site)

    with pytest.raises(ImageFilesError) as caught:
        put(directories=[folder(at(site, '/var/www/webapp')), folder(at(site, '/etc/nginx/nginx.conf/conf.d'))])

    assert 'is not a folder' in str(caught.value)
    assert snapshot(site) == before


def test_paths_are_normalized(tmp_path):
    result = put(directories=[folder(str(tmp_path) + '//srv/./www/')])

    assert result['directories'][0]['path'] == at(tmp_path, '/srv/www')
    assert os.path.isdir(at(tmp_path, '/srv/www'))

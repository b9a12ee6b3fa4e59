# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Put a set of folders and files into place in one pass. Runs on the target: standard library only.

``plan(directories, files, absent)`` checks every item (absolute paths, owners, groups, modes, validate commands,
items that contradict each other) and then looks at the tree: it returns a ``Plan`` and changes nothing, so check
mode is a plan that is not applied. ``apply(plan)`` makes the changes in this order: the ``absent`` paths are
removed, the folders created or updated (parents first), then the files written in the order given. ``put()`` does
both and returns the module's result.

A file whose content changes is written to a temporary file in its own folder, given its owner, group and mode,
flushed to disk, checked with its ``validate`` command when it has one, and renamed over the old one, so a reader
sees the old file or the new one, never a part of it, and a file that fails its check never replaces the old one.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import grp
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import tempfile


# Ansible's default max_file_size_for_diff: larger contents are not shown in the diff.
DIFF_MAX_BYTES = 104448

DIRECTORY_KEYS = ('path', 'owner', 'group', 'mode')
FILE_KEYS = ('path', 'content', 'owner', 'group', 'mode', 'validate')
_OPTIONAL_KEYS = ('validate',)

_MODE = re.compile(r'^[0-7]{3,4}$')
_NUMERIC_ID = re.compile(r'^[0-9]+$')
_TEMPORARY_SUFFIX = '.image_files'
# Item states that are changes; the others are unchanged (folders, files) and absent (paths to remove).
CHANGED_STATES = ('created', 'updated', 'removed')
_MAX_OUTPUT = 2000


class ImageFilesError(Exception):
    """An item is wrong (checked before anything changes) or a change failed.

    ``changed_paths`` are the paths already changed when a change failed (empty when nothing was changed).
    """

    def __init__(self, message, changed_paths=()):
        super(ImageFilesError, self).__init__(message)
        self.changed_paths = sorted(changed_paths)


# Checking the items

def _where(kind, index, path=None):
    """How a message names an item: ``files[2] (/etc/nginx/nginx.conf)``."""
    if isinstance(path, str) and path:
        return '%s[%d] (%s)' % (kind, index, path)
    return '%s[%d]' % (kind, index)


def _check_path(value, where):
    if not isinstance(value, str) or not value:
        raise ImageFilesError('%s: path must be a non-empty string, got %r' % (where, value))
    if '\0' in value:
        raise ImageFilesError('%s: path must not contain a NUL character' % where)
    if not value.startswith('/'):
        raise ImageFilesError('%s: %r is not an absolute path; give the full path, such as /etc/app/app.conf'
                              % (where, value))
    path = os.path.normpath(value)
    if path.startswith('//'):
        path = '/' + path.lstrip('/')
    return path


def _check_id(value, where, key, lookup):
    """A UID or GID from a name (looked up with ``lookup``) or a number (an integer or a string of digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ImageFilesError('%s: %s must be a name or a numeric ID, got %r' % (where, key, value))
    if isinstance(value, int):
        number = value
    elif _NUMERIC_ID.match(value):
        number = int(value)
    elif not value:
        raise ImageFilesError('%s: %s must not be empty' % (where, key))
    else:
        try:
            return lookup(value)
        except KeyError:
            kind = 'user' if key == 'owner' else 'group'
            raise ImageFilesError('%s: %s %r: no such %s on the target; create it first, or give a numeric ID'
                                  % (where, key, value, kind))
    if number < 0 or number > 0xfffffffe:
        raise ImageFilesError('%s: %s %r is not a valid numeric ID' % (where, key, value))
    return number


def _uid(name):
    return pwd.getpwnam(name).pw_uid


def _gid(name):
    return grp.getgrnam(name).gr_gid


def _check_mode(value, where):
    if isinstance(value, str) and _MODE.match(value):
        return int(value, 8)
    if isinstance(value, int) and not isinstance(value, bool):
        raise ImageFilesError("%s: mode must be a quoted octal string such as '0644', got the number %d: YAML reads "
                              "an unquoted 0644 as the number 420 and 644 as six hundred forty-four; quote it"
                              % (where, value))
    raise ImageFilesError("%s: mode must be an octal string of 3 or 4 digits such as '0644' or '2775', got %r "
                          "(symbolic modes are not supported)" % (where, value))


def _check_validate(value, where):
    """The validate command as an argument list, or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ImageFilesError('%s: validate must be a command line such as "nginx -t -c %%s", got %r'
                              % (where, value))
    try:
        argv = shlex.split(value)
    except ValueError as exc:
        raise ImageFilesError('%s: validate %r cannot be split into arguments: %s' % (where, value, exc))
    if not any('%s' in arg for arg in argv):
        raise ImageFilesError('%s: validate %r must contain %%s, where the path of the file to check goes'
                              % (where, value))
    return argv


def _check_content(value, where):
    if not isinstance(value, str):
        raise ImageFilesError('%s: content must be a string, got %s; a template that renders YAML or JSON may have '
                              'been turned into data on the way: pass the text itself' % (where, type(value).__name__))
    try:
        return value.encode('utf-8', 'surrogateescape')
    except UnicodeEncodeError as exc:
        raise ImageFilesError('%s: content cannot be encoded as UTF-8: %s' % (where, exc))


def _check_item(kind, index, item, keys):
    if not isinstance(item, dict):
        raise ImageFilesError('%s: must be a dictionary with %s, got %r'
                              % (_where(kind, index), ', '.join(keys), item))
    where = _where(kind, index, item.get('path'))
    unknown = sorted(str(key) for key in item if key not in keys)
    if unknown:
        raise ImageFilesError('%s: unknown key(s) %s; the keys are %s'
                              % (where, ', '.join(unknown), ', '.join(keys)))
    missing = [key for key in keys if key not in _OPTIONAL_KEYS and item.get(key) is None]
    if missing:
        raise ImageFilesError('%s: missing %s' % (where, ', '.join(missing)))
    return where


def _check_list(value, name):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ImageFilesError('%s: must be a list, got %r' % (name, value))
    return list(value)


class Item:
    """One folder, file or path to remove, checked: ``kind`` is directories, files or absent."""

    def __init__(self, kind, index, path, where, uid=None, gid=None, mode=None, data=None, validate=None):
        self.kind = kind
        self.index = index
        self.path = path
        self.where = where
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.data = data
        self.validate = validate
        # Filled by the plan.
        self.before = None
        self.state = 'unchanged'
        self.changes = []
        self.parents = []


def check_items(directories=(), files=(), absent=(), user_id=_uid, group_id=_gid):
    """Check every item and return ``(directories, files, absent)`` as lists of ``Item``. Looks at no path.

    ``user_id`` and ``group_id`` turn a user or group name into its ID (raising ``KeyError`` when unknown).
    Raises ``ImageFilesError`` naming the first wrong item.
    """
    checked = {'directories': [], 'files': [], 'absent': []}
    for kind, items, keys in (('directories', directories, DIRECTORY_KEYS), ('files', files, FILE_KEYS)):
        for index, item in enumerate(_check_list(items, kind)):
            where = _check_item(kind, index, item, keys)
            path = _check_path(item['path'], where)
            where = _where(kind, index, path)
            entry = Item(kind, index, path, where,
                         uid=_check_id(item['owner'], where, 'owner', user_id),
                         gid=_check_id(item['group'], where, 'group', group_id),
                         mode=_check_mode(item['mode'], where))
            if kind == 'files':
                if path == '/':
                    raise ImageFilesError('%s: / is a folder, not a file' % where)
                entry.data = _check_content(item['content'], where)
                entry.validate = _check_validate(item.get('validate'), where)
            checked[kind].append(entry)
    for index, value in enumerate(_check_list(absent, 'absent')):
        path = _check_path(value, _where('absent', index, value))
        where = _where('absent', index, path)
        if path == '/':
            raise ImageFilesError('%s: / cannot be removed' % where)
        checked['absent'].append(Item('absent', index, path, where))
    _check_conflicts(checked['directories'] + checked['files'] + checked['absent'])
    return checked['directories'], checked['files'], checked['absent']


def _is_below(path, folder):
    return path != folder and path.startswith(folder.rstrip('/') + '/')


def _check_conflicts(items):
    seen = {}
    for item in items:
        if item.path in seen:
            raise ImageFilesError('%s: %s is listed twice (also as %s); give each path once'
                                  % (item.where, item.path, seen[item.path].where))
        seen[item.path] = item
    for item in items:
        if item.kind == 'directories':
            continue
        for other in items:
            if other is item or other.kind == 'absent' or not _is_below(other.path, item.path):
                continue
            if item.kind == 'absent':
                raise ImageFilesError('%s: removing %s would remove %s' % (item.where, item.path, other.where))
            raise ImageFilesError('%s: %s is a file, so %s cannot be below it' % (item.where, item.path, other.where))


# Looking at the tree

def _lstat(path):
    try:
        return os.lstat(path)
    except OSError:
        return None


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def _type(info):
    if info is None:
        return None
    if stat.S_ISDIR(info.st_mode):
        return 'directory'
    if stat.S_ISREG(info.st_mode):
        return 'file'
    if stat.S_ISLNK(info.st_mode):
        return 'link'
    return 'other'


def _state(path, info, data=None):
    """What the diff and the results show of a path, from its (l)stat result (None when it does not exist)."""
    if info is None:
        return None
    state = {
        'type': _type(info),
        'mode': stat.S_IMODE(info.st_mode),
        'uid': info.st_uid,
        'gid': info.st_gid,
        'size': info.st_size,
        'data': data,
    }
    if state['type'] == 'link':
        try:
            state['target'] = os.readlink(path)
        except OSError:
            state['target'] = '?'
    return state


def _read(path, where):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except (IOError, OSError) as exc:
        raise ImageFilesError('%s: cannot read %s: %s; run the module as root (become)'
                              % (where, path, exc.strerror or exc))


def _attribute_changes(item, state):
    changes = []
    if state['uid'] != item.uid:
        changes.append('owner')
    if state['gid'] != item.gid:
        changes.append('group')
    if state['mode'] != item.mode:
        changes.append('mode')
    return changes


class Plan:
    """The checked items and what has to change for each. Built by ``plan()``; changes nothing."""

    def __init__(self, directories, files, absent):
        self.directories = directories
        self.files = files
        self.absent = absent
        # Folders that exist once the plan is applied (the ones it creates), to place what comes after.
        self._created = set()

    def look(self):
        for item in self.absent:
            self._look_absent(item)
        # Parents before the folders below them, whatever the order given.
        for item in sorted(self.directories, key=lambda entry: entry.path.split('/')):
            self._look_directory(item)
        for item in self.files:
            self._look_file(item)

    def _look_absent(self, item):
        info = _lstat(item.path)
        item.before = _state(item.path, info)
        item.state = 'absent' if info is None else 'removed'

    def _exists_as_folder(self, path):
        return path in self._created or os.path.isdir(path)

    def _look_directory(self, item):
        info = _lstat(item.path)
        if info is not None and stat.S_ISLNK(info.st_mode):
            # A link to a folder stands for the folder, as with the file module: its target gets the attributes.
            info = _stat(item.path)
            if info is None:
                raise ImageFilesError('%s: %s is a link to nothing; remove it (list it in absent) or point it to '
                                      'a folder' % (item.where, item.path))
        if info is None:
            item.parents = self._missing_parents(item)
            item.state = 'created'
            self._created.update(item.parents + [item.path])
            return
        if not stat.S_ISDIR(info.st_mode):
            raise ImageFilesError('%s: %s exists and is a %s, not a folder; remove it first'
                                  % (item.where, item.path, _type(info)))
        item.before = _state(item.path, info)
        item.changes = _attribute_changes(item, item.before)
        if item.changes:
            item.state = 'updated'

    def _missing_parents(self, item):
        """The missing folders above ``item.path``, top first; raises when something else stands in the way."""
        parents = []
        current = os.path.dirname(item.path)
        while not self._exists_as_folder(current):
            if os.path.lexists(current):
                raise ImageFilesError('%s: cannot create %s: %s is not a folder' % (item.where, item.path, current))
            parents.insert(0, current)
            current = os.path.dirname(current)
        return parents

    def _look_file(self, item):
        folder = os.path.dirname(item.path)
        if not self._exists_as_folder(folder):
            raise ImageFilesError('%s: the folder %s does not exist; add it to directories' % (item.where, folder))
        info = _lstat(item.path)
        if info is None:
            item.state = 'created'
            return
        if stat.S_ISDIR(info.st_mode):
            raise ImageFilesError('%s: %s exists and is a folder, not a file; remove it first'
                                  % (item.where, item.path))
        data = _read(item.path, item.where) if stat.S_ISREG(info.st_mode) else None
        item.before = _state(item.path, info, data)
        if not stat.S_ISREG(info.st_mode):
            # A link (or anything else but a folder) is replaced by the file, as the copy module does.
            item.changes = ['type', 'content']
        else:
            if data != item.data:
                item.changes.append('content')
            item.changes.extend(_attribute_changes(item, item.before))
        if item.changes:
            item.state = 'updated'

    # Results

    def changed_paths(self):
        paths = set()
        for item in self.absent + self.directories + self.files:
            if item.state in CHANGED_STATES:
                paths.add(item.path)
                paths.update(item.parents)
        return sorted(paths)

    def result(self):
        """The module's return values (without ``changed`` and ``diff``), items in the order given."""
        def placed(item):
            return {
                'path': item.path,
                'state': item.state,
                'changes': list(item.changes),
                'owner': item.uid,
                'group': item.gid,
                'mode': '%04o' % item.mode,
            }

        return {
            'changed_paths': self.changed_paths(),
            'directories': [placed(item) for item in self.directories],
            'files': [placed(item) for item in self.files],
            'absent': [{'path': item.path, 'state': item.state, 'type': (item.before or {}).get('type')}
                       for item in self.absent],
        }

    def diff(self):
        """A list of diffs: one per file whose content changes, then one line per path that changes."""
        diffs = []
        for item in self.files:
            if 'content' in item.changes or item.state == 'created':
                before = item.before or {}
                diffs.append({
                    'before_header': item.path if item.before else '%s (missing)' % item.path,
                    'after_header': item.path,
                    'before': _text(before.get('data')) if before.get('type') == 'file' else '',
                    'after': _text(item.data),
                })
        before_lines = []
        after_lines = []
        for item in self.absent:
            if item.state == 'removed':
                before_lines.append(_describe(item.path, item.before))
        for item in sorted(self.directories, key=lambda entry: entry.path.split('/')):
            for parent in item.parents:
                after_lines.append(_describe(parent, _planned_state(item, 'directory')))
            if item.state != 'unchanged':
                if item.before:
                    before_lines.append(_describe(item.path, item.before))
                after_lines.append(_describe(item.path, _planned_state(item, 'directory')))
        for item in self.files:
            if item.state != 'unchanged':
                if item.before:
                    before_lines.append(_describe(item.path, item.before))
                after_lines.append(_describe(item.path, _planned_state(item, 'file')))
        if before_lines or after_lines:
            diffs.append({
                'before_header': 'image_files: paths that change, before',
                'after_header': 'image_files: paths that change, after',
                'before': ''.join(line + '\n' for line in before_lines),
                'after': ''.join(line + '\n' for line in after_lines),
            })
        return diffs


def _planned_state(item, kind):
    return {'type': kind, 'mode': item.mode, 'uid': item.uid, 'gid': item.gid,
            'size': len(item.data) if item.data is not None else 0}


def _text(data):
    if data is None:
        return ''
    if len(data) > DIFF_MAX_BYTES:
        return '(%d bytes, larger than %d: not shown)\n' % (len(data), DIFF_MAX_BYTES)
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return '(%d bytes of binary content: not shown)\n' % len(data)


def _describe(path, state):
    details = [state['type']]
    if state['type'] == 'link':
        details.append('to %s' % state.get('target', '?'))
    else:
        if state['type'] == 'file':
            details.append('%d bytes' % state['size'])
        details.append('mode %04o' % state['mode'])
        details.append('owner %d' % state['uid'])
        details.append('group %d' % state['gid'])
    return '%s (%s)' % (path, ', '.join(details))


def plan(directories=(), files=(), absent=(), user_id=_uid, group_id=_gid):
    """Check the items, then look at the tree: the ``Plan`` that puts them into place. Changes nothing.

    ``directories`` are dicts with ``path``, ``owner``, ``group`` and ``mode``; ``files`` the same with ``content``
    (a string) and an optional ``validate`` command; ``absent`` is a list of paths. Raises ``ImageFilesError``
    naming the item when one is wrong or when the tree does not allow it (a file where a folder goes...).
    """
    checked = check_items(directories, files, absent, user_id=user_id, group_id=group_id)
    result = Plan(*checked)
    result.look()
    return result


# Making the changes

def fsync_folder(path):
    """fsync a folder (so a rename or removal in it is on disk); a folder that cannot be opened is left alone."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _set_attributes(path, uid, gid, mode, info=None):
    """Owner and group first: changing them clears the set-user-ID and set-group-ID bits that the mode sets."""
    info = info or os.stat(path)
    if (info.st_uid, info.st_gid) != (uid, gid):
        os.chown(path, uid, gid)
    if stat.S_IMODE(info.st_mode) != mode or (info.st_uid, info.st_gid) != (uid, gid):
        os.chmod(path, mode)


def _remove(path):
    info = _lstat(path)
    if info is None:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    fsync_folder(os.path.dirname(path))


def _make_folder(path, uid, gid, mode):
    os.mkdir(path, 0o700)
    _set_attributes(path, uid, gid, mode)
    fsync_folder(os.path.dirname(path))


def _run_validate(item, temporary):
    argv = [arg.replace('%s', temporary) for arg in item.validate]
    try:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate()
    except OSError as exc:
        raise ImageFilesError('%s: cannot run the validate command %s: %s'
                              % (item.where, ' '.join(shlex.quote(arg) for arg in argv), exc.strerror or exc))
    if process.returncode != 0:
        output = (err.strip() or out.strip()).decode('utf-8', 'replace')
        if len(output) > _MAX_OUTPUT:
            output = '...' + output[-_MAX_OUTPUT:]
        raise ImageFilesError('%s: the new content failed validation, the file was left as it was: %s exited with '
                              '%d: %s' % (item.where, ' '.join(shlex.quote(arg) for arg in argv),
                                          process.returncode, output or '(no output)'))


def write_atomic(path, data, mode, owner=None, validate=None, suffix='.tmp'):
    """Write the bytes ``data`` to ``path`` so that readers see the old content or the new one, never a part.

    A temporary file in the same folder (``.<name>.<random><suffix>``) gets the owner (``(uid, gid)``, when given)
    and ``mode``, is synced, checked by ``validate(temporary_path)`` when given, renamed over ``path``, and the
    folder is synced. The folder must exist. On any failure the temporary file is removed and ``path`` is left as
    it was; raises ``OSError`` (or what ``validate`` raises). The one atomic write of the collection: image_files,
    image_manifest and the drift report use it.
    """
    folder = os.path.dirname(path)
    descriptor, temporary = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix=suffix, dir=folder)
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
            handle.flush()
            if owner is not None:
                info = os.fstat(handle.fileno())
                if (info.st_uid, info.st_gid) != tuple(owner):
                    os.fchown(handle.fileno(), owner[0], owner[1])
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        if validate is not None:
            validate(temporary)
        os.replace(temporary, path)
        temporary = None
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass
    fsync_folder(folder)


def _write_file(item):
    """Write one file item atomically (see ``write_atomic``), validated by its ``validate`` command."""
    validate = (lambda temporary: _run_validate(item, temporary)) if item.validate else None
    write_atomic(item.path, item.data, item.mode, (item.uid, item.gid), validate, _TEMPORARY_SUFFIX)


def apply(result_plan):
    """Make the changes of ``result_plan``: removals, folders (parents first), then files in the order given.

    Raises ``ImageFilesError`` naming the item and carrying the paths already changed when a change fails.
    """
    done = []
    todo = len(result_plan.changed_paths())

    def failed(item, verb, exc):
        return ImageFilesError('%s: cannot %s %s: %s (%d of %d paths were changed; fix the cause and run it again)'
                               % (item.where, verb, item.path, exc.strerror or exc, len(done), todo), done)

    for item in result_plan.absent:
        if item.state == 'removed':
            try:
                _remove(item.path)
            except (IOError, OSError) as exc:
                raise failed(item, 'remove', exc)
            done.append(item.path)
    for item in sorted(result_plan.directories, key=lambda entry: entry.path.split('/')):
        try:
            for parent in item.parents:
                _make_folder(parent, item.uid, item.gid, item.mode)
                done.append(parent)
            if item.state == 'created':
                _make_folder(item.path, item.uid, item.gid, item.mode)
            elif item.state == 'updated':
                _set_attributes(item.path, item.uid, item.gid, item.mode)
        except (IOError, OSError) as exc:
            raise failed(item, 'create' if item.state == 'created' else 'set the owner and mode of', exc)
        if item.state != 'unchanged':
            done.append(item.path)
    for item in result_plan.files:
        if item.state == 'unchanged':
            continue
        try:
            if item.state == 'created' or 'content' in item.changes:
                _write_file(item)
            else:
                _set_attributes(item.path, item.uid, item.gid, item.mode)
        except ImageFilesError as exc:
            raise ImageFilesError('%s (%d of %d paths were changed before it)' % (exc, len(done), todo), done)
        except (IOError, OSError) as exc:
            raise failed(item, 'write', exc)
        done.append(item.path)
    return done


def put(directories=(), files=(), absent=(), check_mode=False, user_id=_uid, group_id=_gid):
    """Plan and, unless ``check_mode``, apply: the module's result, with ``changed`` and ``diff`` (a list).

    Nothing is changed when an item is wrong. In check mode the validate commands are not run.
    """
    result_plan = plan(directories, files, absent, user_id=user_id, group_id=group_id)
    if not check_mode:
        apply(result_plan)
    result = result_plan.result()
    result['changed'] = bool(result['changed_paths'])
    result['diff'] = result_plan.diff()
    return result

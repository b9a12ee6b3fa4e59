# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Remove what must not be baked into an image, in one pass. Runs on the target: standard library only.

``plan(root, options)`` looks at the tree under ``root`` and returns a ``Plan``: the actions that would clean it
(remove a path, truncate a file, create a file or folder, set a mode, owner or modification time) and the mount
points it leaves alone. It changes nothing, so check mode is a plan that is not applied. ``apply(actions)`` runs
the actions in order. ``clean()`` does both and returns the module's result.

Paths in ``options`` are paths of the image (``/var/log``); they are looked up under ``root`` (``/`` in a bake).

Mount points strictly below ``root`` are never changed, entered for a change nor removed: what a bake mounts
(a bind-mounted apt cache at ``/var/cache/apt/archives``) is on the host and is not committed into the image. A
folder that holds a mount point is emptied around it. The mount points that hold (or are) something the cleaning
would otherwise change are returned in ``mounts_left``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import fnmatch
import os
import pwd
import re
import shutil
import stat
import time


# The apt package lists and caches: what apt-get clean removes, plus the lists. An image never runs apt, and a
# child bake runs apt-get update first; apt recreates the folders it needs under both.
APT_FOLDERS = ('/var/lib/apt/lists', '/var/cache/apt')
APT_LISTS = '/var/lib/apt/lists'
# apt's cache_valid_time looks at this stamp, or else at the lists folder's time: without the stamp and with the
# empty lists folder dated 1970, the next layered bake runs apt-get update instead of trusting lists that are gone.
APT_UPDATE_STAMP = '/var/lib/apt/periodic/update-success-stamp'
STALE_MTIME = 0  # 1970-01-01 00:00:00 UTC
APT_FOLDER_MODE = 0o755

LOG_FOLDER = '/var/log'

# Every instance generates its own host keys. Entries matching the pattern at depth 1 or 2 under /etc.
SSH_HOST_KEY_FOLDER = '/etc'
SSH_HOST_KEY_PATTERN = 'ssh_host_*'
SSH_HOST_KEY_DEPTH = 2

# An empty /etc/machine-id (0 bytes, read-only) makes systemd generate an ID on each instance's first boot.
MACHINE_ID = '/etc/machine-id'
MACHINE_ID_MODE = 0o444
DBUS_MACHINE_ID = '/var/lib/dbus/machine-id'

PYCACHE_NAME = '__pycache__'

MOUNTINFO = '/proc/self/mountinfo'

DEFAULT_TEMPORARY_PATHS = ['/tmp', '/var/tmp']
DEFAULT_HISTORY_FILES = [
    '.bash_history',
    '.sh_history',
    '.ash_history',
    '.zsh_history',
    '.python_history',
    '.lesshst',
    '.viminfo',
    '.wget-hsts',
]
DEFAULT_PYCACHE_PATHS = ['/root']

DEFAULT_OPTIONS = {
    'apt': True,
    'logs': True,
    'temporary_paths': DEFAULT_TEMPORARY_PATHS,
    'history_files': DEFAULT_HISTORY_FILES,
    'ssh_host_keys': True,
    'machine_id': True,
    'pycache_paths': DEFAULT_PYCACHE_PATHS,
}
_BOOL_OPTIONS = ('apt', 'logs', 'ssh_host_keys', 'machine_id')
_PATH_LIST_OPTIONS = ('temporary_paths', 'pycache_paths')

# The return values that list paths, in the order the module documents them.
RESULT_LISTS = ('removed', 'truncated', 'emptied', 'created', 'updated', 'mounts_left')

_OCTAL_ESCAPE = re.compile(r'\\([0-7]{3})')


class ImageCleanError(Exception):
    """The cleaning could not be planned (bad options, unreadable tree) or one of its actions failed."""


class Action:
    """One change: ``kind`` is remove, truncate, create_file, create_folder, chmod, chown or mtime.

    ``before`` is the path's state when it was planned (see ``_state``), ``value`` the mode, ``(uid, gid)`` or
    time to set.
    """

    def __init__(self, kind, path, before=None, value=None):
        self.kind = kind
        self.path = path
        self.before = before
        self.value = value

    def __repr__(self):
        return 'Action(%r, %r, value=%r)' % (self.kind, self.path, self.value)


def _owner_wanted():
    """``(uid, gid)`` the managed paths must have: root, when running as root (otherwise it cannot be changed)."""
    if hasattr(os, 'geteuid') and os.geteuid() == 0:
        return 0, 0
    return None


def _unescape_mount_point(field):
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match.group(1), 8)), field)


def read_mount_points(mountinfo=MOUNTINFO):
    """The mount points listed in ``mountinfo`` (5th field of each line), or ``None`` when it cannot be read."""
    try:
        with open(mountinfo, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError):
        return None
    points = set()
    for line in data.splitlines():
        fields = os.fsdecode(line).split(' ')
        if len(fields) > 4:
            points.add(os.path.normpath(_unescape_mount_point(fields[4])))
    return points


class MountTable:
    """Which paths are mount points: a set of mount points, or ``os.path.ismount`` when ``points`` is None."""

    def __init__(self, points=None):
        self.points = None if points is None else frozenset(os.path.normpath(point) for point in points)

    @classmethod
    def from_system(cls):
        return cls(read_mount_points())

    def is_mount(self, path):
        if self.points is None:
            return os.path.ismount(path)
        return path in self.points

    def has_mount_below(self, path):
        """True when a mount point lies strictly below the folder ``path``."""
        if self.points is not None:
            prefix = path.rstrip('/') + '/'
            return any(point.startswith(prefix) for point in self.points)
        for top, dirs, files in os.walk(path):
            for name in dirs + files:
                if os.path.ismount(os.path.join(top, name)):
                    return True
        return False


def payload_folder(path=None):
    """The folder of the AnsiballZ payload this code runs from (``/tmp/ansible_..._payload_xxx``), or None.

    A module runs from a zip file that AnsiballZ writes to a new folder of the system's temporary folder and
    removes after the run: emptying ``/tmp`` must leave that folder alone while the module runs.
    """
    current = os.path.dirname(os.path.abspath(path or __file__))
    while True:
        if os.path.isfile(current):
            return os.path.dirname(current)
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _state(info):
    """What the diff shows of a path, from its (l)stat result."""
    if info is None:
        return None
    if stat.S_ISDIR(info.st_mode):
        kind = 'directory'
    elif stat.S_ISREG(info.st_mode):
        kind = 'file'
    elif stat.S_ISLNK(info.st_mode):
        kind = 'symbolic link'
    else:
        kind = 'special file'
    return {
        'type': kind,
        'size': info.st_size,
        'mode': stat.S_IMODE(info.st_mode),
        'owner': (info.st_uid, info.st_gid),
        'mtime': int(info.st_mtime),
    }


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


def _validate_options(options):
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ImageCleanError('unknown option(s) %s; known options are %s'
                              % (', '.join(unknown), ', '.join(sorted(DEFAULT_OPTIONS))))
    merged = dict(DEFAULT_OPTIONS)
    merged.update((key, value) for key, value in options.items() if value is not None)
    for key in _BOOL_OPTIONS:
        if not isinstance(merged[key], bool):
            raise ImageCleanError('%s: must be true or false, got %r' % (key, merged[key]))
    for key in _PATH_LIST_OPTIONS:
        paths = []
        for path in _string_list(merged, key):
            if not path.startswith('/'):
                raise ImageCleanError('%s: %r is not an absolute path; give paths of the image such as /tmp'
                                      % (key, path))
            path = os.path.normpath(path)
            if path.startswith('//'):
                path = '/' + path.lstrip('/')
            if path not in paths:
                paths.append(path)
        merged[key] = paths
    if '/' in merged['temporary_paths']:
        raise ImageCleanError("temporary_paths: '/' would empty the whole image; give the temporary folders, "
                              "such as /tmp and /var/tmp")
    names = []
    for name in _string_list(merged, 'history_files'):
        if not name or '/' in name or name in ('.', '..'):
            raise ImageCleanError("history_files: %r is not a file name; give names such as .bash_history, "
                                  "looked for in every account's home" % (name,))
        if name not in names:
            names.append(name)
    merged['history_files'] = names
    return merged


def _string_list(options, key):
    value = options[key]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ImageCleanError('%s: must be a list of strings, got %r' % (key, value))
    return list(value)


def _validate_root(root):
    if not isinstance(root, str) or not root.startswith('/'):
        raise ImageCleanError('root: %r is not an absolute path' % (root,))
    if not os.path.isdir(root):
        raise ImageCleanError('root: %s is not a directory' % root)
    return os.path.realpath(root)


def passwd_homes(root='/'):
    """Home folders of every account: the passwd database (NSS) for ``/``, else ``<root>/etc/passwd``."""
    if root == '/':
        return sorted(set(entry.pw_dir for entry in pwd.getpwall()))
    path = os.path.join(root, 'etc/passwd')
    try:
        with open(path, 'rb') as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError) as exc:
        raise ImageCleanError('cannot read the accounts from %s: %s' % (path, exc))
    homes = set()
    for line in lines:
        fields = os.fsdecode(line).split(':')
        if len(fields) >= 7:
            homes.add(fields[5])
    return sorted(homes)


class Plan:
    """The actions that clean a tree, and what the cleaning leaves alone. Built by ``plan()``; changes nothing."""

    def __init__(self, root, mounts, keep=(), owner=None):
        self.root = root
        self.mounts = mounts
        self.keep = [os.path.normpath(path) for path in keep]
        self.owner = owner
        self.actions = []
        self.emptied = []
        self.mounts_left = set()
        self._removed = set()

    # Paths

    def path(self, image_path):
        """The path of ``image_path`` (absolute, in the image) under the root."""
        if self.root == '/':
            return image_path
        return os.path.join(self.root, image_path.lstrip('/'))

    def _below_root(self, path):
        return path != self.root and path.startswith(self.root.rstrip('/') + '/')

    def mount_of(self, path):
        """The outermost mount point strictly below the root that is ``path`` or holds it, else None."""
        if not self._below_root(path):
            return None
        current = self.root
        for part in os.path.relpath(path, self.root).split(os.sep):
            current = os.path.join(current, part)
            if self.mounts.is_mount(current):
                return current
        return None

    def _kept(self, path):
        prefix = path.rstrip('/') + '/'
        return any(kept == path or kept.startswith(prefix) for kept in self.keep)

    def _under_removed(self, path):
        current = path
        while True:
            if current in self._removed:
                return True
            parent = os.path.dirname(current)
            if parent == current:
                return False
            current = parent

    def _add(self, kind, path, before=None, value=None):
        if self._under_removed(path):
            return
        if kind == 'remove':
            self._removed.add(path)
        self.actions.append(Action(kind, path, before, value))

    # Building blocks

    def remove_tree(self, path):
        """Plan the removal of ``path``, or of all of it but the way to the mount points under it.

        Returns True when something of it would be removed.
        """
        if self._kept(path) or self._under_removed(path):
            return False
        if self.mounts.is_mount(path):
            self.mounts_left.add(path)
            return False
        info = _lstat(path)
        if info is None:
            return False
        if stat.S_ISDIR(info.st_mode) and self.mounts.has_mount_below(path):
            removed = False
            for name in _list_folder(path):
                removed = self.remove_tree(os.path.join(path, name)) or removed
            return removed
        self._add('remove', path, _state(info))
        return True

    def remove_path(self, path):
        """Plan the removal of ``path`` when it exists and is not in a mount point."""
        if _lstat(path) is None:
            return
        mount = self.mount_of(path)
        if mount:
            self.mounts_left.add(mount)
            return
        self.remove_tree(path)

    def empty_folder(self, path):
        """Plan the removal of what the folder ``path`` holds; the folder stays. True when it held something."""
        mount = self.mount_of(path)
        if mount:
            if os.path.lexists(path):
                self.mounts_left.add(mount)
            return False
        if not os.path.isdir(path):
            return False
        removed = False
        for name in _list_folder(path):
            removed = self.remove_tree(os.path.join(path, name)) or removed
        if removed:
            self.emptied.append(path)
        return removed

    def set_attributes(self, path, info, mode, mtime=None):
        """Plan the mode, owner (when known) and modification time of the existing ``path``."""
        state = _state(info)
        if state['mode'] != mode:
            self._add('chmod', path, state, mode)
        if self.owner is not None and state['owner'] != self.owner:
            self._add('chown', path, state, self.owner)
        if mtime is not None and info.st_mtime != mtime:
            self._add('mtime', path, state, mtime)

    # The parts

    def apt(self):
        for image_folder in APT_FOLDERS:
            folder = self.path(image_folder)
            mount = self.mount_of(folder)
            if mount:
                self.mounts_left.add(mount)
                continue
            mtime = STALE_MTIME if image_folder == APT_LISTS else None
            info = _stat(folder)
            if info is not None and not stat.S_ISDIR(info.st_mode):
                raise ImageCleanError('%s is not a directory; remove it (apt expects a folder there)' % folder)
            if info is None:
                self._add('create_folder', folder, None, APT_FOLDER_MODE)
                if mtime is not None:
                    self._add('mtime', folder, None, mtime)
                continue
            emptied = self.empty_folder(folder)
            if emptied and mtime is not None:
                # Removing the content dates the folder now: it has to be dated again.
                self._add('mtime', folder, _state(info), mtime)
                mtime = None
            self.set_attributes(folder, info, APT_FOLDER_MODE, mtime)
        self.remove_path(self.path(APT_UPDATE_STAMP))

    def logs(self):
        folder = self.path(LOG_FOLDER)
        mount = self.mount_of(folder)
        if mount:
            if os.path.lexists(folder):
                self.mounts_left.add(mount)
            return
        if os.path.isdir(folder):
            self._truncate_under(folder)

    def _truncate_under(self, folder):
        for name in _list_folder(folder):
            path = os.path.join(folder, name)
            info = _lstat(path)
            if info is None:
                continue
            if stat.S_ISDIR(info.st_mode):
                if self.mounts.is_mount(path):
                    self.mounts_left.add(path)
                else:
                    self._truncate_under(path)
            elif stat.S_ISREG(info.st_mode) and info.st_size > 0:
                if self.mounts.is_mount(path):
                    self.mounts_left.add(path)
                else:
                    self._add('truncate', path, _state(info))

    def temporary(self, paths):
        for image_folder in paths:
            self.empty_folder(self.path(image_folder))

    def histories(self, names, homes):
        for home in sorted(set(homes)):
            if not home or not home.startswith('/'):
                continue
            folder = self.path(os.path.normpath(home))
            for name in names:
                path = os.path.join(folder, name)
                info = _lstat(path)
                # A file, or a symbolic link (as rm -f would remove it); never a folder of that name.
                if info is not None and (stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode)):
                    self.remove_path(path)

    def ssh_host_keys(self):
        self._remove_matching(self.path(SSH_HOST_KEY_FOLDER), 1)

    def _remove_matching(self, folder, depth):
        if not os.path.isdir(folder) or (self._below_root(folder) and self.mounts.is_mount(folder)):
            return
        for name in _list_folder(folder):
            path = os.path.join(folder, name)
            if fnmatch.fnmatchcase(name, SSH_HOST_KEY_PATTERN):
                self.remove_path(path)
            elif depth < SSH_HOST_KEY_DEPTH and os.path.isdir(path) and not os.path.islink(path):
                self._remove_matching(path, depth + 1)

    def machine_id(self):
        path = self.path(MACHINE_ID)
        mount = self.mount_of(path)
        if mount:
            self.mounts_left.add(mount)
        else:
            # Follows a symbolic link, as truncate and the file module did.
            info = _stat(path)
            if info is None:
                if not os.path.isdir(os.path.dirname(path)):
                    raise ImageCleanError('cannot create %s: %s is not a directory'
                                          % (path, os.path.dirname(path)))
                self._add('create_file', path, None, MACHINE_ID_MODE)
            elif not stat.S_ISREG(info.st_mode):
                raise ImageCleanError('%s is not a regular file; remove it so that an empty machine ID can be '
                                      'written' % path)
            else:
                if info.st_size > 0:
                    self._add('truncate', path, _state(info))
                self.set_attributes(path, info, MACHINE_ID_MODE)
        self.remove_path(self.path(DBUS_MACHINE_ID))

    def pycaches(self, paths):
        for image_folder in paths:
            folder = self.path(image_folder)
            if os.path.isdir(folder) and not self.mount_of(folder):
                self._remove_pycaches_under(folder)

    def _remove_pycaches_under(self, folder):
        for name in _list_folder(folder):
            path = os.path.join(folder, name)
            info = _lstat(path)
            if info is None or not stat.S_ISDIR(info.st_mode):
                continue
            if self.mounts.is_mount(path):
                if name == PYCACHE_NAME:
                    self.mounts_left.add(path)
            elif name == PYCACHE_NAME:
                self.remove_tree(path)
            else:
                self._remove_pycaches_under(path)

    # Results

    def result(self):
        """The module's return values (without ``changed`` and ``diff``): sorted lists of paths."""
        lists = dict((key, set()) for key in RESULT_LISTS)
        for action in self.actions:
            if action.kind == 'remove':
                lists['removed'].add(action.path)
            elif action.kind == 'truncate':
                lists['truncated'].add(action.path)
            elif action.kind in ('create_file', 'create_folder'):
                lists['created'].add(action.path)
            else:
                lists['updated'].add(action.path)
        lists['updated'] -= lists['created']
        lists['emptied'].update(self.emptied)
        lists['mounts_left'].update(self.mounts_left)
        return dict((key, sorted(value)) for key, value in lists.items())

    def diff(self):
        """``{'before', 'after'}``: one line per path that goes or changes, with its state before and after."""
        states = {}
        for action in self.actions:
            before, after = states.get(action.path, (action.before, _copy(action.before)))
            states[action.path] = (before, _after(action, after, self.owner))
        dated_paths = set(action.path for action in self.actions if action.kind == 'mtime')
        before_lines = []
        after_lines = []
        for path in sorted(states):
            before, after = states[path]
            dated = path in dated_paths
            if before is not None:
                before_lines.append(_describe(path, before, dated))
            if after is not None:
                after_lines.append(_describe(path, after, dated))
        return {
            'before_header': 'image_clean: what goes or changes',
            'after_header': 'image_clean: after the cleaning',
            'before': ''.join(line + '\n' for line in before_lines),
            'after': ''.join(line + '\n' for line in after_lines),
        }


def _copy(state):
    return None if state is None else dict(state)


def _after(action, state, owner):
    if action.kind == 'remove':
        return None
    if action.kind == 'create_folder':
        return {'type': 'directory', 'size': 0, 'mode': action.value, 'owner': owner, 'mtime': None}
    if action.kind == 'create_file':
        return {'type': 'file', 'size': 0, 'mode': action.value, 'owner': owner, 'mtime': None}
    if state is None:
        return None
    state = dict(state)
    if action.kind == 'truncate':
        state['size'] = 0
    elif action.kind == 'chmod':
        state['mode'] = action.value
    elif action.kind == 'chown':
        state['owner'] = action.value
    elif action.kind == 'mtime':
        state['mtime'] = action.value
    return state


def _describe(path, state, dated):
    details = [state['type']]
    if state['type'] == 'file':
        details.append('size %d' % state['size'])
    if state['type'] in ('file', 'directory'):
        details.append('mode %04o' % state['mode'])
        if state['owner'] is not None:
            details.append('owner %d:%d' % state['owner'])
    if dated and state['mtime'] is not None:
        details.append('modified %s' % time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(state['mtime'])))
    return '%s (%s)' % (path, ', '.join(details))


def _list_folder(path):
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        raise ImageCleanError('cannot list %s: %s; run the module as root (become)' % (path, exc.strerror or exc))


_AUTO = object()


def plan(root='/', options=None, mounts=None, homes=None, keep=(), owner=_AUTO):
    """Look at the tree under ``root`` and return the ``Plan`` that cleans it. Changes nothing.

    ``options`` (see ``DEFAULT_OPTIONS``; missing or None values take the default) choose the parts.
    ``mounts`` is a ``MountTable`` or a list of mount points (default: ``/proc/self/mountinfo``, else
    ``os.path.ismount``). ``homes`` are the accounts' home folders as in the image (default: ``passwd_homes``).
    ``keep`` are paths left alone without a word (the module's own payload). ``owner`` is the ``(uid, gid)`` of
    the apt folders and the machine ID (default: root when running as root, else unchanged). Raises
    ``ImageCleanError`` on bad options or a tree that cannot be read, before anything is changed.
    """
    options = _validate_options(options or {})
    root = _validate_root(root)
    if mounts is None:
        mounts = MountTable.from_system()
    elif not isinstance(mounts, MountTable):
        mounts = MountTable(mounts)
    if owner is _AUTO:
        owner = _owner_wanted()
    result = Plan(root, mounts, keep=keep, owner=owner)
    if options['apt']:
        result.apt()
    if options['logs']:
        result.logs()
    result.temporary(options['temporary_paths'])
    if options['history_files']:
        result.histories(options['history_files'], passwd_homes(root) if homes is None else homes)
    if options['ssh_host_keys']:
        result.ssh_host_keys()
    if options['machine_id']:
        result.machine_id()
    result.pycaches(options['pycache_paths'])
    return result


_VERBS = {
    'remove': 'remove',
    'truncate': 'truncate',
    'create_file': 'create',
    'create_folder': 'create',
    'chmod': 'set the mode of',
    'chown': 'set the owner of',
    'mtime': 'set the modification time of',
}


def _apply_one(action):
    path = action.path
    if action.kind == 'remove':
        info = _lstat(path)
        if info is None:
            return
        if stat.S_ISDIR(info.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    elif action.kind == 'truncate':
        os.truncate(path, 0)
    elif action.kind == 'create_file':
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, action.value)
        os.close(descriptor)
        os.chmod(path, action.value)
    elif action.kind == 'create_folder':
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, APT_FOLDER_MODE)
        os.mkdir(path, action.value)
        os.chmod(path, action.value)
    elif action.kind == 'chmod':
        os.chmod(path, action.value)
    elif action.kind == 'chown':
        os.chown(path, action.value[0], action.value[1])
    elif action.kind == 'mtime':
        info = os.stat(path)
        os.utime(path, ns=(info.st_atime_ns, int(action.value * 1000000000)))
    else:
        raise ImageCleanError('unknown action %r for %s' % (action.kind, path))


def apply(actions, owner=_AUTO):
    """Run ``actions`` in order. Created paths get ``owner`` (default: root when running as root).

    Raises ``ImageCleanError`` naming the path and how many actions were done when one fails.
    """
    if owner is _AUTO:
        owner = _owner_wanted()
    for done, action in enumerate(actions):
        try:
            _apply_one(action)
            if action.kind in ('create_file', 'create_folder') and owner is not None:
                os.chown(action.path, owner[0], owner[1])
        except (IOError, OSError) as exc:
            raise ImageCleanError('cannot %s %s: %s (%d of %d changes were made; fix the cause and run it again)'
                                  % (_VERBS.get(action.kind, action.kind), action.path, exc.strerror or exc,
                                     done, len(actions)))


def clean(root='/', options=None, check_mode=False, mounts=None, homes=None, keep=(), owner=_AUTO):
    """Plan the cleaning of ``root`` and apply it unless ``check_mode``: the module's result, with ``diff``.

    ``changed`` is True when something is (or would be) removed, truncated, created or updated.
    """
    if owner is _AUTO:
        owner = _owner_wanted()
    result_plan = plan(root, options, mounts=mounts, homes=homes, keep=keep, owner=owner)
    if not check_mode:
        apply(result_plan.actions, owner=owner)
    result = result_plan.result()
    result['changed'] = bool(result_plan.actions)
    result['diff'] = result_plan.diff()
    return result

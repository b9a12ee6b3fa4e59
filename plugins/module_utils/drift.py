# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift of running instances against their image: pure functions over what the engine reports.

An instance has drifted when it does not run its fleet revision's image, or when its filesystem differs from
its image outside the runtime paths that are allowed to change (/tmp, /run, /var/log, /var/cache...).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import fnmatch
import posixpath

# Paths a running instance may change without drifting: scratch space, runtime state, logs and caches.
DEFAULT_RUNTIME_PATHS = ('/tmp', '/var/tmp', '/run', '/var/run', '/var/log', '/var/cache', '/var/lib/nginx',
                         '/proc', '/sys', '/dev')

# The change words of a provider's ``diff(instance)`` (``provider.CHANGES``).
CHANGES = ('added', 'changed', 'deleted')


class DriftError(ValueError):
    """Bad drift settings; the message says which."""


def normalize_runtime_paths(paths):
    """Absolute, normalized runtime paths (or fnmatch patterns); raise DriftError on a relative one."""
    normalized = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith('/'):
            raise DriftError('runtime path %r must be an absolute path such as /tmp' % (path,))
        normalized.append(posixpath.normpath(path))
    return normalized


def is_runtime_path(path, runtime_paths):
    """True when ``path`` is one of ``runtime_paths``, lies under one, or matches one as a glob."""
    path = posixpath.normpath(path)
    for allowed in runtime_paths:
        if path == allowed or path.startswith(allowed.rstrip('/') + '/') or fnmatch.fnmatchcase(path, allowed):
            return True
    return False


def filesystem_changes(diff, runtime_paths):
    """Changes outside the runtime paths, as ``{'added': [...], 'changed': [...], 'deleted': [...]}``.

    ``diff`` is the provider's list of ``{'path': str, 'change': 'added' | 'changed' | 'deleted'}``. A changed
    directory is only reported when nothing under it is reported, since the engine marks every parent of a changed
    file as changed too.
    """
    result = dict((change, []) for change in CHANGES)
    entries = [(entry['path'], entry['change'] if entry['change'] in CHANGES else 'changed') for entry in diff or []]
    all_paths = set(path for path, kind in entries)
    for path, kind in entries:
        if is_runtime_path(path, runtime_paths):
            continue
        if kind == 'changed' and any(other.startswith(path.rstrip('/') + '/') for other in all_paths):
            continue
        result[kind].append(path)
    for kind in result:
        result[kind].sort()
    return result


def instance_drift(instance, expected_image_id, diff, runtime_paths):
    """The drift finding of one instance.

    ``instance`` is a dict with at least ``name`` and ``image_id``. Returns a dict: name, image_id,
    expected_image_id, image_drift (bool), changes (see filesystem_changes), drifted (bool).
    """
    changes = filesystem_changes(diff, runtime_paths)
    image_drift = bool(expected_image_id) and instance.get('image_id') != expected_image_id
    drifted = image_drift or any(changes.values())
    return {
        'name': instance['name'],
        'image_id': instance.get('image_id'),
        'expected_image_id': expected_image_id,
        'image_drift': image_drift,
        'changes': changes,
        'drifted': drifted,
    }


def report_lines(findings):
    """A readable table of drift findings, one line per instance and one per changed path."""
    lines = ['%-28s %-8s %s' % ('INSTANCE', 'DRIFTED', 'DETAILS')]
    for finding in findings:
        details = []
        if finding['image_drift']:
            details.append('runs image %s, fleet revision is %s'
                           % ((finding['image_id'] or '?')[7:19], (finding['expected_image_id'] or '?')[7:19]))
        for kind in ('added', 'changed', 'deleted'):
            details.extend('%s %s' % (kind, path) for path in finding['changes'][kind])
        lines.append('%-28s %-8s %s' % (finding['name'], 'yes' if finding['drifted'] else 'no',
                                        details[0] if details else '-'))
        lines.extend('%-28s %-8s %s' % ('', '', detail) for detail in details[1:])
    return lines

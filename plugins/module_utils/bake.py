# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bake decision: the bake key, the cache hit, the refused version reuse, and the verdict of the tests.

Functions take an image store (``images.DockerImageStore`` or a test double) and plain values, and raise
``BakeError`` with a message that says what to do.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.immutable.infra.plugins.module_utils.images import (
    FAILED_PREFIX, LABEL_BAKE_CONTAINER, LABEL_FLEET, VERIFIED_PREFIX, image_ref,
)
from ansible_collections.immutable.infra.plugins.module_utils.semver import SemVer, SemVerError, to_tag

SKIPPED_PARTS = ('__pycache__', '.pytest_cache')
SKIPPED_SUFFIXES = ('.pyc', '.pyo', '.swp', '~')


class BakeError(Exception):
    """A bake must not go on; the message says why and what to pass instead."""


def _walk(path):
    if os.path.isdir(path):
        for top, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_PARTS)
            for name in sorted(files):
                if not name.endswith(SKIPPED_SUFFIXES):
                    yield os.path.join(top, name)
    elif os.path.isfile(path):
        yield path
    else:
        raise BakeError('bake input %s does not exist' % path)


def input_digests(root, paths):
    """``[[relative path, sha256, executable], ...]`` of every file under ``paths`` (relative to ``root``)."""
    digests = []
    for rel in sorted(set(paths)):
        for path in _walk(os.path.join(root, rel)):
            with open(path, 'rb') as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            digests.append([os.path.relpath(path, root), digest, os.access(path, os.X_OK)])
    return digests


def source_digests(sources):
    """``[[label/relative path, sha256, executable], ...]`` of every file of ``sources`` (``[{label, path}]``,
    ``path`` absolute: a file, named by its label, or a folder, whose files are named label/relative path).
    Labels, not paths, name the files: the key does not depend on where a project or a collection lives."""
    digests, seen = [], set()
    for source in sorted(sources or [], key=lambda s: s['label']):
        if source['label'] in seen:
            continue
        seen.add(source['label'])
        top = source['path']
        for path in _walk(top):
            with open(path, 'rb') as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            name = source['label'] if path == top else '%s/%s' % (source['label'], os.path.relpath(path, top))
            digests.append([name, digest, os.access(path, os.X_OK)])
    return digests


def compute_bake_key(root, paths, values, sources=None):
    """sha256 over the content of the input files (``paths`` relative to ``root``, and ``sources``, see
    :func:`source_digests`) and the values (version, parent image ID, variables...)."""
    files = input_digests(root, paths) if paths else []
    document = {'files': files + source_digests(sources), 'values': values}
    encoded = json.dumps(document, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(encoded.encode('utf-8')).hexdigest()


def check_version(version):
    try:
        return SemVer.parse(version)
    except SemVerError as exc:
        raise BakeError('%s. Pass the version to bake with -e version=X.Y.Z.' % exc)


def plan_bake(store, name, version, bake_key, force=False):
    """What a bake of ``name`` ``version`` with ``bake_key`` must do.

    ``bake_key`` is a string, or a callable that computes the key for a version (used when ``version`` is
    ``next``: the first patch version above the newest one of ``name``).
    Returns a dict: ``action`` (``skip`` or ``bake``), ``version``, ``bake_key``, ``reason``, ``image`` (the
    existing record or None), ``leftovers`` (what an interrupted or failed earlier bake left, to clean
    before baking). Raises ``BakeError`` when the version exists with other content.
    """
    if callable(bake_key):
        bake_key = bake_key(version)
    check_version(version)
    verified = store.find_verified(name, version)
    candidate = store.find(name, version)
    ref = image_ref(store.repository, name, to_tag(version))
    plan = {'action': 'bake', 'version': version, 'bake_key': bake_key, 'reason': '',
            'image': verified or candidate, 'leftovers': []}

    if verified is not None:
        if verified['bake_key'] != bake_key:
            raise BakeError(
                '%s is already baked and verified from different content (bake key %s, this bake %s). '
                'A version is never reused for different content: bake a new version (for example %s).'
                % (ref, (verified['bake_key'] or 'none')[:12], bake_key[:12], next_patch(version)))
        if not force:
            plan.update(action='skip', reason='cache hit: %s is verified with the same bake key' % ref)
            return plan
        plan['reason'] = 'force_bake: rebaking %s with the same bake key' % ref
    else:
        plan['reason'] = 'no verified image of %s %s yet' % (name, version)

    if candidate is not None and not candidate['verified']:
        plan['leftovers'].append({'kind': 'tag', 'ref': ref, 'id': candidate['id'],
                                  'why': 'unverified: an earlier bake was interrupted or not tested'})
    label = '%s=%s/%s' % (LABEL_BAKE_CONTAINER, store.repository, name)
    for container in store.containers({'label': label}):
        if LABEL_FLEET in (container.get('Labels') or {}):
            continue  # an instance of an image that was baked from such a container, never a build leftover
        plan['leftovers'].append({'kind': 'container', 'ref': container['Id'], 'id': container['Id'],
                                  'why': 'build container of an interrupted bake (%s)' % container.get('State')})
    return plan


def plan_refresh(store, name, initial_version, key_for_version):
    """The plan for an automatic bake of ``name`` (the parent layer): reuse its newest verified version when
    that is still current, else bake the next patch version above the newest one (``initial_version`` when
    there is none). ``key_for_version(version)`` computes the bake key for a version."""
    newest = store.newest_verified(name)
    if newest is None:
        return plan_bake(store, name, initial_version, key_for_version)
    key = key_for_version(newest['version'])
    if newest['bake_key'] == key:
        return plan_bake(store, name, newest['version'], key)
    highest = store.images(name)[0]['version']
    plan = plan_bake(store, name, next_patch(highest), key_for_version)
    plan['reason'] = '%s %s is stale (its inputs changed): baking %s' % (name, newest['version'], plan['version'])
    return plan


def clean_leftovers(store, name, version, leftovers):
    """Remove what ``plan_bake`` found: orphan build containers and an unverified version tag."""
    for item in leftovers:
        if item['kind'] == 'container':
            store.remove_container(item['id'])
        elif item['kind'] == 'tag':
            store.untag(name, to_tag(version))


def next_patch(version):
    parsed = SemVer.parse(version)
    return '%d.%d.%d' % (parsed.major, parsed.minor, parsed.patch + 1)


def _candidate(store, name, version, bake_key):
    record = store.find(name, version)
    if record is None:
        raise BakeError('no image %s to judge: was the Packer build run?'
                        % image_ref(store.repository, name, to_tag(version)))
    if bake_key and record['bake_key'] != bake_key:
        raise BakeError('%s carries bake key %s, not %s: another bake replaced it meanwhile'
                        % (image_ref(store.repository, name, to_tag(version)), record['bake_key'], bake_key))
    return record


def mark_verified(store, name, version, bake_key, check_mode=False):
    """Tag the tested candidate ``verified-<version>``. Returns (changed, record)."""
    record = _candidate(store, name, version, bake_key)
    if record['verified']:
        return False, record
    if not check_mode:
        store.tag(record['id'], name, VERIFIED_PREFIX + to_tag(version))
        store.untag(name, FAILED_PREFIX + to_tag(version))
    return True, record


def mark_failed(store, name, version, bake_key, check_mode=False):
    """Take the version tag off a candidate that failed its tests and tag it ``failed-<version>``.

    When an earlier verified image of that version exists (a forced rebake), the version tag goes back to it.
    Returns (changed, record).
    """
    record = _candidate(store, name, version, bake_key)
    tag = to_tag(version)
    if record['verified']:
        raise BakeError('%s is verified already; it cannot be marked failed'
                        % image_ref(store.repository, name, tag))
    previous = store.find_verified(name, version)
    if not check_mode:
        store.tag(record['id'], name, FAILED_PREFIX + tag)
        if previous is not None:
            store.tag(previous['id'], name, tag)
        else:
            store.untag(name, tag)
    return True, record

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Image catalog: which images a prune removes and why. Pure functions, no engine access.

Besides :func:`decide_prune`: :func:`parse_duration` reads a ``grace_period`` such as ``1d`` or ``12h``, and
:func:`image_table`, :func:`channel_table`, :func:`history_table` and :func:`prune_table` lay out module
results as text. ``catalog_store.py`` reads the engine for them.

The caller (a controller-side module) reads the engine and passes plain image records; this module decides.
One record is a dict:

``id``
    image ID, ``sha256:<hex>``.
``name``
    image name (``web``).
``version``
    semantic version from the ``io.immutable-infra.version`` label, or None for an unlabelled (failed) bake.
``verified``
    True when the image carries its ``verified-<version>`` tag. An image without a version is never verified.
``created``
    timezone-aware datetime (UTC) of the bake.
``parent``
    image ID of the parent image, or None. Parents outside the catalog are ignored.
``in_use_by``
    names of the containers (running or stopped) created from the image.
``channels``
    names of the channels whose current target is the image.
``history_rank``
    channel name -> position of the image in that channel's history counted from the newest entry:
    0 is the current target, 1 the target before it, and so on.
``tags`` (optional)
    the image's tags (``immutable/web:1.2.0``), used only to match ``protect`` entries.

Fleet records (the ``fleets`` argument of :func:`decide_prune` and :func:`fleet_references`) are plain data
too, one dict per fleet as the fleet provider holds them:

``name``
    the fleet's name.
``history``
    its revision history, oldest first, as ``Provider.read_history`` returns it: dicts with at least
    ``number``, ``image_id``, ``outcome`` and ``previous`` (the number of the revision that served before).
``lock``
    the holder of the fleet's lock (``Provider.lock_holder``: a dict of host, pid, operation...) or None when the
    lock is free.

Rules of :func:`decide_prune`, applied to each image:

1. Kept, whatever else holds, when any of these is true:

   * it is ``protected``: a ``protect`` entry names it by image ID (full, without ``sha256:``, or a prefix of at
     least 12 hex digits), by ``name:version``, or by tag (``immutable/web:1.2.0``, ``immutable/web:1.2.0_b.5``,
     ``immutable/web:verified-1.2.0``, or any tag listed in the record's ``tags``);
   * it is ``used by container <name>`` (running or stopped);
   * it is the ``target of channel <channel>`` (in ``channels``, or history rank 0);
   * it is ``in history of channel <channel> (entry <rank>)`` with 1 <= rank <= ``keep_history``
     (``keep_history`` 0 keeps only the current targets; 2 also keeps the two previous targets of each channel);
   * it is one of the ``newest <keep> verified`` versions of its name: verified images are ranked by semver
     precedence, then by creation time, and the ``keep`` highest distinct versions are kept (when one version
     was baked more than once, only its newest image counts; older bakes of the same version are removed);
   * it is ``unverified, within grace period``: not verified (or without a version) and created less than
     ``grace_period`` before ``now``.

   * a fleet needs it (``fleets``, see :func:`fleet_references`): it is the ``current image of fleet <fleet>
     revision <n>``, a ``rollback target of fleet <fleet> revision <n>``, or ``fleet <fleet> is being rolled out
     (lock held)`` (``fleet <fleet> has an unfinished rollout (revision <n> in progress)`` without a lock).

2. Then, repeated until nothing changes: the parent of a kept image is kept (``parent of kept image web:1.3.0``),
   so a whole chain of parents survives.

3. Everything else is removed, with one ``reason``. ``remove`` lists children before their parents, so the
   images can be deleted in that order.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import re

from collections.abc import Mapping

from ansible_collections.immutable.infra.plugins.module_utils.semver import (
    SemVer,
    SemVerError,
    from_tag,
    is_valid,
)


_HEX_PREFIX_RE = re.compile(r'[0-9a-f]{12,64}')
_MIN_SHORT_ID = 12
VERIFIED_TAG_PREFIX = 'verified-'


class CatalogError(ValueError):
    """Raised for invalid prune parameters or image records; the message says which and how to fix it."""


class PruneDecision:
    """The result of :func:`decide_prune`.

    ``remove``: copies of the records to remove, each with a ``reason`` (str), children before parents.
    ``keep``: copies of the records to keep, each with ``reasons`` (list of str), grouped by name, newest first.
    ``unmatched_protect``: the ``protect`` entries that matched no image (a typo protects nothing).
    """

    __slots__ = ('remove', 'keep', 'unmatched_protect')

    def __init__(self, remove, keep, unmatched_protect):
        self.remove = remove
        self.keep = keep
        self.unmatched_protect = unmatched_protect

    def __repr__(self):
        return 'PruneDecision(remove=%r, keep=%r, unmatched_protect=%r)' % (
            [r['id'] for r in self.remove], [r['id'] for r in self.keep], self.unmatched_protect)


def _normalize_id(image_id):
    image_id = image_id.strip().lower()
    if image_id.startswith('sha256:'):
        image_id = image_id[len('sha256:'):]
    return image_id


def image_key(image_id):
    """How image IDs are compared: lower-case hex without ``sha256:`` (the keys of :func:`fleet_references`)."""
    return _normalize_id(image_id)


def _short_id(image_id):
    return _normalize_id(image_id)[:_MIN_SHORT_ID]


def _describe(record):
    """How messages name an image: ``web:1.2.0``, or ``web@<short id>`` when it has no version."""
    name = record.get('name') if isinstance(record, Mapping) else None
    version = record.get('version') if isinstance(record, Mapping) else None
    image_id = record.get('id') if isinstance(record, Mapping) else None
    if name and version:
        return '%s:%s' % (name, version)
    if name and isinstance(image_id, str):
        return '%s@%s' % (name, _short_id(image_id))
    if isinstance(image_id, str):
        return image_id
    return repr(record)


def _format_duration(delta):
    seconds = int(delta.total_seconds())
    parts = []
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60), ('s', 1)):
        if seconds >= size:
            parts.append('%d%s' % (seconds // size, unit))
            seconds %= size
    return ''.join(parts) or '0s'


def _is_aware(value):
    return value.tzinfo is not None and value.tzinfo.utcoffset(value) is not None


def _string_list(record, position, key):
    value = record.get(key)
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set, frozenset)):
        raise CatalogError('image %d (%s): %s must be a list of names, got %r'
                           % (position, _describe(record), key, value))
    for item in value:
        if not isinstance(item, str) or not item:
            raise CatalogError('image %d (%s): %s must hold non-empty strings, got %r'
                               % (position, _describe(record), key, item))
    return list(value)


class _Image:
    """A validated record, with the values the rules need."""

    __slots__ = ('record', 'id', 'key', 'name', 'version', 'semver', 'verified', 'created', 'parent',
                 'in_use_by', 'targets', 'history', 'tags')

    def __init__(self, record, position):
        if not isinstance(record, Mapping):
            raise CatalogError('image %d must be a dict (id, name, version, verified, created, ...), got %r'
                               % (position, record))
        for key in ('id', 'name', 'version', 'verified', 'created'):
            if key not in record:
                raise CatalogError('image %d (%s) has no %s' % (position, _describe(record), key))
        self.record = record
        where = 'image %d (%s)' % (position, _describe(record))

        self.id = record['id']
        if not isinstance(self.id, str) or not _normalize_id(self.id):
            raise CatalogError('%s: id must be a non-empty string such as sha256:<hex>, got %r' % (where, self.id))
        self.key = _normalize_id(self.id)

        self.name = record['name']
        if not isinstance(self.name, str) or not self.name:
            raise CatalogError('%s: name must be a non-empty string such as web, got %r' % (where, self.name))

        self.version = record['version']
        self.semver = None
        if self.version is not None:
            try:
                self.semver = SemVer.parse(self.version)
            except SemVerError as e:
                raise CatalogError('%s: %s' % (where, e)) from e

        verified = record['verified']
        if not isinstance(verified, bool):
            raise CatalogError('%s: verified must be true or false, got %r' % (where, verified))
        # The verified tag is verified-<version>: an image without a version cannot be verified.
        self.verified = verified and self.semver is not None

        self.created = record['created']
        if not isinstance(self.created, datetime.datetime) or not _is_aware(self.created):
            raise CatalogError('%s: created must be a timezone-aware datetime (UTC), got %r' % (where, self.created))

        parent = record.get('parent')
        if parent is not None and not isinstance(parent, str):
            raise CatalogError('%s: parent must be an image ID or None, got %r' % (where, parent))
        self.parent = _normalize_id(parent) if parent else None

        self.in_use_by = _string_list(record, position, 'in_use_by')
        self.tags = _string_list(record, position, 'tags')

        history_rank = record.get('history_rank') or {}
        if not isinstance(history_rank, Mapping):
            raise CatalogError('%s: history_rank must map channel names to positions, got %r' % (where, history_rank))
        self.history = {}
        for channel, rank in history_rank.items():
            if not isinstance(channel, str) or not channel:
                raise CatalogError('%s: history_rank keys must be channel names, got %r' % (where, channel))
            if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
                raise CatalogError('%s: history_rank[%r] must be an integer >= 0 (0 = current target), got %r'
                                   % (where, channel, rank))
            self.history[channel] = rank

        self.targets = []
        for channel in _string_list(record, position, 'channels') + sorted(
                channel for channel, rank in self.history.items() if rank == 0):
            if channel not in self.targets:
                self.targets.append(channel)

    @property
    def label(self):
        if self.version is not None:
            return '%s:%s' % (self.name, self.version)
        return '%s@%s' % (self.name, _short_id(self.id))


def _newest_first_key(created, semver):
    # Sorted with reverse=True: versioned before unversioned, higher precedence first, then newer first.
    if semver is None:
        return (0, (), created)
    return (1, semver.precedence_key, created)


def newest_first(records):
    """Return the records sorted newest first: semver precedence descending, then ``created`` descending.

    Only ``version`` (semver string or None), ``created`` (timezone-aware datetime) and ``id`` are read.
    Records without a version come after all versioned ones, newest first. Ties are ordered by ``id``.
    Raises :class:`CatalogError` when a record has an invalid version or created.
    """
    keyed = []
    for position, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise CatalogError('image %d must be a dict with version and created, got %r' % (position, record))
        where = 'image %d (%s)' % (position, _describe(record))
        version = record.get('version')
        try:
            semver = None if version is None else SemVer.parse(version)
        except SemVerError as e:
            raise CatalogError('%s: %s' % (where, e)) from e
        created = record.get('created')
        if not isinstance(created, datetime.datetime) or not _is_aware(created):
            raise CatalogError('%s: created must be a timezone-aware datetime (UTC), got %r' % (where, created))
        keyed.append((_newest_first_key(created, semver), str(record.get('id', '')), record))
    keyed.sort(key=lambda item: item[1])
    keyed.sort(key=lambda item: item[0], reverse=True)
    return [record for key, image_id, record in keyed]


def _sort_newest_first(images):
    ordered = sorted(images, key=lambda image: image.id)
    ordered.sort(key=lambda image: _newest_first_key(image.created, image.semver), reverse=True)
    return ordered


def _matches_protect(image, entry):
    if entry == image.id or entry in image.tags:
        return True
    normalized = _normalize_id(entry)
    if _HEX_PREFIX_RE.fullmatch(normalized) and image.key.startswith(normalized):
        return True
    if ':' not in entry or entry.lower().startswith('sha256:') or image.version is None:
        return False
    reference, tag = entry.rsplit(':', 1)
    name = reference.rsplit('/', 1)[-1]
    if name != image.name:
        return False
    if tag.startswith(VERIFIED_TAG_PREFIX):
        tag = tag[len(VERIFIED_TAG_PREFIX):]
    version = tag if is_valid(tag) else from_tag(tag)
    return version is not None and version == image.version


def _validate_params(keep, keep_history, protect, grace_period, now):
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise CatalogError('keep must be an integer >= 1 (the newest verified versions kept per image name), '
                           'got %r' % (keep,))
    if isinstance(keep_history, bool) or not isinstance(keep_history, int) or keep_history < 0:
        raise CatalogError('keep_history must be an integer >= 0 (previous targets kept per channel; 0 keeps '
                           'only the current targets), got %r' % (keep_history,))
    if not isinstance(grace_period, datetime.timedelta):
        raise CatalogError('grace_period must be a duration (timedelta), got %r' % (grace_period,))
    if grace_period < datetime.timedelta(0):
        raise CatalogError('grace_period must not be negative, got %s' % (grace_period,))
    if not isinstance(now, datetime.datetime) or not _is_aware(now):
        raise CatalogError('now must be a timezone-aware datetime (UTC), got %r' % (now,))
    if protect is None:
        return []
    if isinstance(protect, (str, bytes)) or not isinstance(protect, (list, tuple, set, frozenset)):
        raise CatalogError('protect must be a list of image IDs, name:version strings or tags, got %r'
                           % (protect,))
    for entry in protect:
        if not isinstance(entry, str) or not entry.strip():
            raise CatalogError('protect entries must be image IDs, name:version strings or tags, got %r'
                               % (entry,))
    return list(protect)


def _fleet_list(fleets):
    if fleets is None:
        return []
    if isinstance(fleets, (str, bytes, Mapping)) or not isinstance(fleets, (list, tuple)):
        raise CatalogError('fleets must be a list of fleet records (name, history, lock), got %r' % (fleets,))
    checked = []
    for position, fleet in enumerate(fleets):
        if not isinstance(fleet, Mapping):
            raise CatalogError('fleet %d must be a dict (name, history, lock), got %r' % (position, fleet))
        if 'name' not in fleet:
            raise CatalogError('fleet %d has no name' % position)
        name = fleet['name']
        if not isinstance(name, str) or not name:
            raise CatalogError('fleet %d: name must be a non-empty string, got %r' % (position, name))
        history = fleet.get('history') or []
        if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, (list, tuple)):
            raise CatalogError('fleet %s: history must be a list of entries (oldest first), got %r' % (name, history))
        for index, entry in enumerate(history):
            if not isinstance(entry, Mapping):
                raise CatalogError('fleet %s: history entry %d must be a dict, got %r' % (name, index, entry))
        lock = fleet.get('lock')
        if lock is not None and not isinstance(lock, Mapping):
            raise CatalogError('fleet %s: lock must be the holder (a dict) or None when free, got %r' % (name, lock))
        checked.append((name, list(history), lock))
    return checked


def _entry_image(entry):
    image_id = entry.get('image_id')
    if isinstance(image_id, str) and _normalize_id(image_id):
        return _normalize_id(image_id)
    return None


def fleet_references(fleets):
    """Which images fleets need, from their records as plain data (see the module docstring).

    Returns a dict: :func:`image_key` of an image ID -> list of reasons. For each fleet:

    * the image of its newest ``succeeded`` history entry, the fleet's current revision (what heal replaces an
      instance with): ``current image of fleet <fleet> revision <n>``;
    * the image of every other ``succeeded`` entry the history keeps, each a revision ``rollback.yml`` may roll
      back to (its default, the newest succeeded entry whose image does not serve, or one named with
      ``-e version=``): ``rollback target of fleet <fleet> revision <n>``, ``n`` the newest entry of that image.
      Entries that did not succeed (``rolled_back``, ``failed``, ``interrupted``) are no targets;
    * while its lock is held (by a live holder or by one that died: the next run takes over and resumes or rolls
      back), or while an entry is ``in_progress``: the image of every ``in_progress`` entry (what is rolled out),
      the image of the entry its ``previous`` number names (what served before, what a rollback goes back to) and
      the current image: ``fleet <fleet> is being rolled out (lock held)``, or ``fleet <fleet> has an unfinished
      rollout (revision <n> in progress)`` when the lock is free.

    Raises :class:`CatalogError` for records that are not of that shape. The records are not modified.
    """
    found = {}

    def add(key, reason):
        if key is not None and reason not in found.setdefault(key, []):
            found[key].append(reason)

    for name, history, lock in _fleet_list(fleets):
        succeeded = [entry for entry in history if entry.get('outcome') == 'succeeded' and _entry_image(entry)]
        current = succeeded[-1] if succeeded else None
        if current is not None:
            add(_entry_image(current), 'current image of fleet %s revision %s' % (name, current.get('number')))
        targets = {}
        for entry in succeeded[:-1]:
            if _entry_image(entry) != _entry_image(current):
                targets[_entry_image(entry)] = entry
        for key, entry in sorted(targets.items(), key=lambda item: _number(item[1].get('number')), reverse=True):
            add(key, 'rollback target of fleet %s revision %s' % (name, entry.get('number')))
        in_progress = [entry for entry in history if entry.get('outcome') == 'in_progress']
        if lock is None and not in_progress:
            continue
        if lock is not None:
            reason = 'fleet %s is being rolled out (lock held)' % name
        else:
            reason = 'fleet %s has an unfinished rollout (revision %s in progress)' % (
                name, in_progress[-1].get('number'))
        by_number = dict((_number(entry.get('number')), entry) for entry in history)
        for entry in in_progress:
            add(_entry_image(entry), reason)
            before = by_number.get(_number(entry.get('previous'))) if _number(entry.get('previous')) >= 0 else None
            if before is not None:
                add(_entry_image(before), reason)
        if current is not None:
            add(_entry_image(current), reason)
        if lock is not None and lock.get('image_id'):
            # The rollout names its target in the lock before it writes its in_progress entry.
            add(_entry_image({'image_id': lock['image_id']}), reason)
    return found


def _number(value):
    """A revision number of a history entry (``number``, ``previous``), -1 when it is none."""
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def decide_prune(records, keep, keep_history, grace_period, now, protect=None, fleets=None):
    """Decide which images of the catalog to remove; see the module docstring for the rules.

    :arg records: list of image record dicts (see the module docstring); they are not modified.
    :arg keep: int >= 1, newest verified versions kept per image name.
    :arg keep_history: int >= 0, previous targets kept per channel (history ranks 1..keep_history).
    :arg grace_period: ``datetime.timedelta`` >= 0; unverified images younger than this are kept.
    :arg now: timezone-aware ``datetime.datetime``, the time the age of an image is measured against.
    :arg protect: list of image IDs, ``name:version`` strings or tags that are never removed.
    :arg fleets: list of fleet records (name, history, lock; see the module docstring): the images they need
        (:func:`fleet_references`) are kept.
    :returns: :class:`PruneDecision`.
    :raises CatalogError: for invalid parameters or records.
    """
    protect = _validate_params(keep, keep_history, protect, grace_period, now)
    if isinstance(records, (str, bytes, Mapping)) or not hasattr(records, '__iter__'):
        raise CatalogError('records must be a list of image records, got %r' % (records,))

    needed = fleet_references(fleets)
    images = [_Image(record, position) for position, record in enumerate(records)]
    by_key = {}
    for image in images:
        if image.key in by_key:
            raise CatalogError('image ID %s appears more than once in the catalog' % image.id)
        by_key[image.key] = image

    reasons = dict((image.key, []) for image in images)
    removal = {}

    # Protected.
    unmatched = []
    for entry in protect:
        matched = [image for image in images if _matches_protect(image, entry)]
        if not matched:
            unmatched.append(entry)
        for image in matched:
            if 'protected' not in reasons[image.key]:
                reasons[image.key].append('protected')

    for image in images:
        for container in image.in_use_by:
            reasons[image.key].append('used by container %s' % container)
        for channel in image.targets:
            reasons[image.key].append('target of channel %s' % channel)
        for channel in sorted(image.history):
            rank = image.history[channel]
            if 1 <= rank <= keep_history:
                reasons[image.key].append('in history of channel %s (entry %d)' % (channel, rank))
        reasons[image.key].extend(needed.get(image.key, []))

    # Newest verified versions, per name.
    verified = {}
    for image in _sort_newest_first(images):
        if image.verified:
            verified.setdefault(image.name, []).append(image)
    for name, ranked in verified.items():
        chosen = {}
        for image in ranked:
            if image.version in chosen:
                removal[image.key] = ('older bake of %s (a newer verified image has the same version)'
                                      % image.label)
            elif len(chosen) < keep:
                chosen[image.version] = image
                reasons[image.key].append('newest %d verified' % keep)
            else:
                removal[image.key] = 'not among the newest %d verified versions of %s' % (keep, name)

    # Unverified and unlabelled images: kept while young.
    for image in images:
        if image.verified:
            continue
        if now - image.created < grace_period:
            reasons[image.key].append('unverified, within grace period')
        else:
            removal[image.key] = 'unverified, older than the grace period (%s)' % _format_duration(grace_period)

    # Parents of kept images, to a fixed point.
    kept = set(key for key, why in reasons.items() if why)
    pending = list(kept)
    while pending:
        image = by_key[pending.pop()]
        parent = by_key.get(image.parent) if image.parent else None
        if parent is not None and parent.key not in kept:
            kept.add(parent.key)
            pending.append(parent.key)
    for image in _sort_newest_first(images):
        if image.key in kept and image.parent in by_key and image.parent != image.key:
            reasons[image.parent].append('parent of kept image %s' % image.label)

    keep_out = []
    remove_out = []
    for image in sorted(_sort_newest_first(images), key=lambda image: image.name):
        result = dict(image.record)
        if image.key in kept:
            result.pop('reason', None)
            result['reasons'] = reasons[image.key]
            keep_out.append(result)
        else:
            result.pop('reasons', None)
            result['reason'] = removal[image.key]
            remove_out.append((_depth(image, by_key), result))
    # Children before parents: deeper images first (stable, so names and newest-first order stay).
    remove_out.sort(key=lambda pair: pair[0], reverse=True)
    return PruneDecision(remove=[result for depth, result in remove_out], keep=keep_out,
                         unmatched_protect=unmatched)


def _depth(image, by_key):
    """Number of parents of ``image`` inside the catalog (cycles stop the walk)."""
    depth = 0
    seen = set([image.key])
    while image.parent in by_key and image.parent not in seen:
        image = by_key[image.parent]
        seen.add(image.key)
        depth += 1
    return depth


_DURATION_RE = re.compile(r'(?:([0-9]+)([wdhms]))')
_DURATION_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}


def parse_duration(text):
    """``1d``, ``12h``, ``30m``, ``45s``, ``2w`` or a combination (``1d12h``), or ``0``, as a ``timedelta``.

    Raises :class:`CatalogError` for anything else.
    """
    if isinstance(text, int) and not isinstance(text, bool) and text == 0:
        return datetime.timedelta(0)
    if isinstance(text, str):
        compact = text.strip().replace(' ', '')
        if compact == '0':
            return datetime.timedelta(0)
        if compact and re.fullmatch(r'(?:[0-9]+[wdhms])+', compact):
            seconds = sum(int(number) * _DURATION_UNITS[unit] for number, unit in _DURATION_RE.findall(compact))
            return datetime.timedelta(seconds=seconds)
    raise CatalogError('%r is not a duration: use a number and a unit, w (weeks), d (days), h (hours), m (minutes) '
                       'or s (seconds), for example 1d, 12h, 30m or 1d12h; 0 for none' % (text,))


def _cell(value):
    if value is None or value == []:
        return '-'
    if isinstance(value, (list, tuple)):
        return ','.join(str(item) for item in value)
    return str(value)


TABLE_COLUMNS = ('NAME', 'VERSION', 'STATUS', 'CHANNELS', 'USED BY', 'FLEETS', 'CREATED', 'ID')
CHANNEL_COLUMNS = ('NAME', 'CHANNEL', 'VERSION', 'ID', 'ENTRIES', 'LAST CHANGE', 'PREVIOUS')
HISTORY_COLUMNS = ('SEQ', 'TIME', 'ACTION', 'VERSION', 'PREVIOUS', 'ID')


def _layout(columns, rows, empty):
    rows = [list(columns)] + rows
    widths = [max(len(row[column]) for row in rows) for column in range(len(columns))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    if len(rows) == 1:
        lines.append(empty)
    return lines


def _items(value, what):
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, '__iter__'):
        raise CatalogError('expected the %s list, got %r' % (what, value))
    items = list(value)
    for item in items:
        if not isinstance(item, Mapping):
            raise CatalogError('expected the %s list (of dicts), got the item %r' % (what, item))
    return items


def _short(image_id):
    return _short_id(image_id) if isinstance(image_id, str) and image_id else '-'


def history_table(history):
    """A channel's history (``history`` of ``image_channel``, newest first) as lines of a text table."""
    rows = []
    for entry in _items(history, 'history'):
        rows.append([_cell(entry.get('seq')), _cell(entry.get('time')), _cell(entry.get('action')),
                     _cell(entry.get('version')), _cell(entry.get('previous_version')),
                     _short(entry.get('image_id'))])
    return _layout(HISTORY_COLUMNS, rows, '(no history)')


def channel_table(channels):
    """The ``channels`` list of ``image_info`` as lines of a text table, a header line first."""
    rows = []
    for channel in _items(channels, 'channels'):
        history = channel.get('history') or []
        last = history[0] if history else {}
        rows.append([_cell(channel.get('name')), _cell(channel.get('channel')), _cell(channel.get('version')),
                     _short(channel.get('image_id')), str(len(history)),
                     _cell(('%s %s' % (last.get('action'), last.get('time'))) if last else None),
                     _cell(last.get('previous_version'))])
    return _layout(CHANNEL_COLUMNS, rows, '(no channels)')


PRUNE_COLUMNS = ('ACTION', 'NAME', 'VERSION', 'ID', 'WHY')


def prune_table(result):
    """The result of ``image_prune`` (``removed`` and ``kept``) as lines of a text table, removals first."""
    if not isinstance(result, Mapping) or 'removed' not in result or 'kept' not in result:
        raise CatalogError('expected the result of image_prune (with removed and kept), got %r' % (result,))
    rows = []
    for record in _items(result['removed'], 'removed'):
        rows.append(['remove', _cell(record.get('name')), _cell(record.get('version')), _short(record.get('id')),
                     _cell(record.get('reason'))])
    for record in _items(result['kept'], 'kept'):
        rows.append(['keep', _cell(record.get('name')), _cell(record.get('version')), _short(record.get('id')),
                     '; '.join(record.get('reasons') or []) or '-'])
    return _layout(PRUNE_COLUMNS, rows, '(no images)')


def image_table(images):
    """The ``images`` list of ``image_info`` as lines of a text table, a header line first.

    Columns: name, version, status (verified, failed or unverified), channels, containers using the image,
    their fleets, creation time and the short image ID. An empty catalog gives the header and ``(no images)``.
    """
    rows = []
    for image in _items(images, 'images'):
        status = 'verified' if image.get('verified') else 'failed' if image.get('failed') else 'unverified'
        created = image.get('created')
        if isinstance(created, datetime.datetime):
            created = created.strftime('%Y-%m-%dT%H:%M:%SZ')
        rows.append([
            _cell(image.get('name')),
            _cell(image.get('version')),
            status,
            _cell(image.get('channels')),
            _cell(image.get('containers')),
            _cell(image.get('fleets')),
            _cell(created),
            _short(image.get('id')),
        ])
    return _layout(TABLE_COLUMNS, rows, '(no images)')

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalog as the engine holds it: what ``image_info`` lists, what ``image_prune`` decides and removes,
what the ``image`` lookup resolves.

Functions take an image store (``images.DockerImageStore`` or a test double) and plain values, and raise
``CatalogError`` with a message that says what to pass instead. The prune decision itself is the pure
``catalog.decide_prune``; the fleet records it weighs (revision histories, locks) are read through a fleet
provider (``provider.docker.DockerProvider`` or a test double: ``fleets()``, ``read_history()``,
``lock_holder()``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime

from ansible_collections.immutable.infra.plugins.module_utils.catalog import (
    CatalogError, decide_prune, fleet_references, image_key, parse_duration,
)
from ansible_collections.immutable.infra.plugins.module_utils.catalog_resolve import (
    STATUSES, VERIFIED, ResolveError, resolve_image,
)
from ansible_collections.immutable.infra.plugins.module_utils.channels import (
    check_channel, check_known_name, check_version, history_ranks, is_channel, public_entry, replay,
)
from ansible_collections.immutable.infra.plugins.module_utils.images import (
    format_time, image_ref,
)
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError


def _known_names(records):
    return sorted(set(r['name'] for r in records if r['name']))


def _unknown_name(store, name, names):
    return CatalogError('no image named %s in repository %s; %s' % (
        name, store.repository,
        'known names: %s' % ', '.join(names) if names else
        'it has no images at all (bake one with playbooks/bake.yml)'))


def _group_entries(entries):
    grouped = {}
    for entry in entries:
        grouped.setdefault((entry['name'], entry['channel']), []).append(entry)
    return grouped


def public_image(record, usage):
    """An image record as ``image_info`` returns it."""
    containers = usage.get(record['id'], [])
    return {
        'name': record['name'],
        'version': record['version'],
        'id': record['id'],
        'created': format_time(record['created']),
        'revision': record['revision'],
        'bake_key': record['bake_key'],
        'parent': record['parent'],
        'verified': record['verified'],
        'failed': record['failed'],
        'tags': record['tags'],
        'channels': sorted(tag for tag in record['tags'] if is_channel(tag)),
        'containers': [c['name'] for c in containers],
        'fleets': sorted(set(c['fleet'] for c in containers if c['fleet'])),
    }


def list_catalog(store, name=None, version=None, channel=None):
    """Images (newest first within each name, names in order) and channels, filtered.

    Returns ``(images, channels)``: ``images`` as ``public_image`` gives them; ``channels`` a list of dicts
    name, channel, version, image_id (what the channel tag points at, None when only history is left) and
    history (entries newest first). Raises ``CatalogError`` for an unknown name, version or channel and for an
    invalid version or channel name.
    """
    if version is not None:
        version = check_version(version)
    if channel is not None:
        check_channel(channel)
    records = store.images()
    names = _known_names(records)
    if name is not None and name not in names:
        raise _unknown_name(store, name, names)
    records = [r for r in records if r['name'] and (name is None or r['name'] == name)]
    records.sort(key=lambda r: r['name'])  # stable: newest first within a name

    # Channels: pointers are tags on the images, history comes from the record images.
    grouped = _group_entries(store.channel_entries(name))
    pointers = {}
    for record in records:
        for tag in record['tags']:
            if is_channel(tag):
                pointers[(record['name'], tag)] = record
    channels = []
    for key in sorted(set(pointers) | set(grouped)):
        pointer = pointers.get(key)
        channels.append({
            'name': key[0],
            'channel': key[1],
            'version': pointer['version'] if pointer else None,
            'image_id': pointer['id'] if pointer else None,
            'history': [public_entry(e) for e in reversed(grouped.get(key, []))],
        })

    if channel is not None:
        if not any(c['channel'] == channel for c in channels):
            known = sorted(set(c['channel'] for c in channels))
            raise CatalogError('%s has no channel %s; channels: %s' % (
                name or 'the catalog', channel, ', '.join(known) or 'none (promote a version with '
                'playbooks/promote.yml)'))
        channels = [c for c in channels if c['channel'] == channel]
        records = [r for r in records if (r['name'], channel) in pointers and pointers[(r['name'], channel)] is r]
    if version is not None:
        matching = [r for r in records if r['version'] == version]
        if not matching:
            versions = []
            for record in records:
                if record['version'] and record['version'] not in versions:
                    versions.append(record['version'])
            raise CatalogError('%s has no version %s%s; versions: %s' % (
                name or 'the catalog', version, ' on channel %s' % channel if channel else '',
                ', '.join(versions) or 'none'))
        records = matching

    usage = store.usage()
    return [public_image(r, usage) for r in records], channels


def prune_records(store):
    """Every catalog image as a ``decide_prune`` record (usage, channels and history ranks filled in)."""
    usage = store.usage()
    ranks = {}
    for key, entries in _group_entries(store.channel_entries()).items():
        for image_id, rank in history_ranks(entries).items():
            ranks.setdefault(image_id, {})[key[1]] = rank
        # The current assignment per the history (a rollback makes an older entry current again).
        stack = replay(entries)
        if stack:
            ranks.setdefault(stack[-1]['image_id'], {})[key[1]] = 0
    now = datetime.datetime.now(datetime.timezone.utc)
    records = []
    for record in store.images():
        if not record['name']:
            continue
        version = record['version']
        try:
            version = check_version(version) if version else None
        except CatalogError:
            version = None
        records.append({
            'id': record['id'],
            'name': record['name'],
            'version': version,
            'verified': bool(record['verified'] and version),
            'created': record['created'] or now,
            'parent': record['parent'] or None,
            'in_use_by': [c['name'] for c in usage.get(record['id'], [])],
            'channels': sorted(tag for tag in record['tags'] if is_channel(tag)),
            'history_rank': ranks.get(record['id'], {}),
            'tags': [image_ref(store.repository, record['name'], tag) for tag in record['tags']],
        })
    return records


def fleet_records(provider):
    """Every fleet's revision history and lock holder as ``decide_prune`` takes them (``fleets``), read through
    ``provider``; ``[]`` without one. Raises ``CatalogError`` when the records cannot be read (a prune that does
    not know what fleets need removes nothing)."""
    if provider is None:
        return []
    try:
        return [{'name': fleet, 'history': provider.read_history(fleet), 'lock': provider.lock_holder(fleet)}
                for fleet in provider.fleets()]
    except ProviderError as exc:
        raise CatalogError('cannot read the fleet records (revision histories and locks) that say which images '
                           'the fleets need: %s; nothing was removed' % exc)


def _pruned(record, key, value):
    prefix = '%s:' % record['name']
    return {
        'name': record['name'],
        'version': record['version'],
        'id': record['id'],
        'created': format_time(record['created']),
        # Tags under <repository>/<name>, as image_info gives them.
        'tags': [tag.rsplit('/', 1)[-1][len(prefix):] for tag in record['tags']],
        key: value,
    }


def plan_prune(store, name=None, keep=3, keep_history=5, protect=None, grace_period='1d', now=None,
               provider=None):
    """What a prune of ``name`` (or every name) removes and keeps, and why.

    The decision is taken over the whole catalog (so a parent of a kept image of another name is kept), then
    narrowed to ``name``. With ``provider``, the images the fleets need (``catalog.fleet_references``) are kept.
    Returns ``{'remove': [...], 'keep': [...]}``: each item has name, version, id, created and tags, and
    ``reason`` (str, removed) or ``reasons`` (list, kept). Raises ``CatalogError`` for an unknown name, invalid
    parameters, a ``protect`` entry that matches no image (a typo protects nothing), or fleet records it cannot
    read.
    """
    grace = parse_duration(grace_period)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    records = prune_records(store)
    names = _known_names(records)
    if name is not None and name not in names:
        raise _unknown_name(store, name, names)
    decision = decide_prune(records, keep=keep, keep_history=keep_history, grace_period=grace, now=now,
                            protect=list(protect or []), fleets=fleet_records(provider))
    if decision.unmatched_protect:
        raise CatalogError('protect entries that match no image: %s. Use an image ID, name:version '
                           '(web:1.2.0) or a tag (%s); nothing was removed'
                           % (', '.join(decision.unmatched_protect), image_ref(store.repository, 'web', '1.2.0')))
    return {
        'remove': [_pruned(r, 'reason', r['reason']) for r in decision.remove if name in (None, r['name'])],
        'keep': [_pruned(r, 'reasons', r['reasons']) for r in decision.keep if name in (None, r['name'])],
    }


def apply_prune(store, plan, provider=None):
    """Remove the images of a ``plan_prune`` plan, children first, never by force.

    Usage and, with ``provider``, the fleet records are read again first: when a container started using one of
    the images since the plan was made, or a fleet needs it now (a rollout took the lock, a history entry names
    it), nothing is removed.
    """
    usage = store.usage()
    needed = fleet_references(fleet_records(provider))
    busy = []
    for record in plan['remove']:
        why = [c['name'] for c in usage.get(record['id'], [])]
        why += needed.get(image_key(record['id']), [])
        if why:
            busy.append('%s:%s (%s)' % (record['name'], record['version'], ', '.join(why)))
    if busy:
        raise CatalogError('images to prune are in use now: %s; nothing was removed, run the prune again'
                           % '; '.join(busy))
    for record in plan['remove']:
        store.delete_image(record['id'])


# How the ``image`` lookup words a reference it cannot resolve (see ``catalog_resolve.REASONS`` for the facts).
RESOLVE_WORDS = {
    'no_channel': '%(name)s has no channel %(channel)s; channels: %(channels)s',
    'other_name': '%(name)s has no channel %(channel)s; channels: %(channels)s',
    'no_latest': '%(name)s has no verified version (versions: %(versions)s); bake one with playbooks/bake.yml',
    'unverified': '%(name)s %(version)s is not verified (it has not passed its image tests); verified versions: '
                  '%(verified)s',
    'failed': '%(name)s %(version)s failed its image tests (it is tagged %(failed_ref)s); verified versions: '
              '%(verified)s',
    'no_version': '%(name)s has no version %(version)s; verified versions: %(verified)s',
}


def resolve(store, name, channel=None, version=None):
    """The image record a reference resolves to, for the ``image`` lookup (``catalog_resolve.resolve_image``).

    ``channel``: what the channel tag points at. ``version='latest'``: the verified image with the highest
    version. ``version='1.2.0'``: the verified image of that version. Exactly one of them.
    """
    if channel is not None and version is None:
        check_channel(channel)
    elif version not in (None, 'latest') and channel is None:
        version = check_version(version)
    accept = STATUSES if channel is not None else (VERIFIED,)
    try:
        return resolve_image(store, name, version, channel, accept)[0]
    except ResolveError as exc:
        if exc.reason != 'usage':
            check_known_name(store, name)
        records = store.images(name)
        raise CatalogError(exc.message(
            RESOLVE_WORDS,
            channels=', '.join(sorted(set(tag for r in records for tag in r['tags'] if is_channel(tag))))
            or 'none (promote a version with playbooks/promote.yml)',
            versions=', '.join(r['version'] for r in records if r['version']) or 'none',
            verified=', '.join(r['version'] for r in records if r['verified']) or 'none'))

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Channels (dev, staging, prod...): named pointers at image versions, with an append-only history.

A channel of image ``web`` is the tag ``<repository>/web:<channel>`` on the image it points at (so
``docker run immutable/web:prod`` works). Every assignment is a history entry kept in the engine as a record
image (see ``images.DockerImageStore.add_channel_entry`` and docs/architecture.md).

The history is replayed as a stack: a ``promote`` entry pushes its image, a ``rollback`` entry pops back to
the entry below. So ``rollback`` steps back through the promotions one at a time (1.2.0 -> 1.1.0 -> 1.0.0),
and every step is itself a new entry: nothing is ever rewritten.

Functions take an image store and plain values and raise ``ChannelError`` (a ``CatalogError``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import re

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.catalog_resolve import (
    FAILED, UNVERIFIED, VERIFIED, ResolveError, resolve_image,
)
from ansible_collections.immutable.infra.plugins.module_utils.images import (
    FAILED_PREFIX, VERIFIED_PREFIX, format_time, image_ref,
)
from ansible_collections.immutable.infra.plugins.module_utils.semver import (
    SemVerError, SemVer, from_tag,
)

CHANNEL_RE = re.compile(r'[a-z][a-z0-9-]{0,62}')
NAME_RE = re.compile(r'[a-z0-9]+(?:[_-][a-z0-9]+)*')
RESERVED_CHANNELS = ('latest',)
RESERVED_PREFIXES = (VERIFIED_PREFIX, FAILED_PREFIX)


class ChannelError(CatalogError):
    """A channel cannot be read or moved as asked; the message says why and what to pass instead."""


def channel_problem(channel):
    """Why ``channel`` is not a valid channel name, or None when it is one."""
    if isinstance(channel, str) and channel in RESERVED_CHANNELS:
        return "'%s' is reserved (Docker uses it as the default tag)" % channel
    if isinstance(channel, str) and channel.startswith(RESERVED_PREFIXES):
        return "'%s-...' tags mark the test verdict of a version" % channel.split('-', 1)[0]
    if not isinstance(channel, str) or not CHANNEL_RE.fullmatch(channel):
        return ('a channel name is 1 to 63 lowercase letters, digits and hyphens starting with a letter '
                '(for example prod or staging-eu)')
    if from_tag(channel) is not None:
        return 'it would collide with a version tag'
    return None


def is_channel(tag):
    """True when an image tag is a channel pointer (not a version, verified-, failed- or latest tag)."""
    return channel_problem(tag) is None


def check_channel(channel):
    problem = channel_problem(channel)
    if problem:
        raise ChannelError('invalid channel name %r: %s' % (channel, problem))
    return channel


def check_name(name):
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ChannelError('invalid image name %r: lowercase letters and digits, separated by single - or _ '
                           '(for example web)' % (name,))
    return name


def check_version(version):
    try:
        return str(SemVer.parse(version))
    except SemVerError as exc:
        raise ChannelError(str(exc))


def replay(entries):
    """The promotion stack after ``entries`` (oldest first): promote pushes, rollback pops back.

    Returns the list of entries on the stack, bottom first; the last one is the channel's current assignment.
    """
    stack = []
    for entry in entries:
        if entry['action'] == 'rollback' and len(stack) > 1:
            stack.pop()
            if stack[-1]['image_id'] != entry['image_id']:
                # Not what a rollback of this history would restore (records edited by hand): take it as is.
                stack.append(entry)
        else:
            stack.append(entry)
    return stack


def public_entry(entry):
    """A history entry as modules return it (times as RFC 3339 strings, no record image ID)."""
    return {
        'seq': entry['seq'],
        'action': entry['action'],
        'version': entry['version'],
        'image_id': entry['image_id'],
        'time': format_time(entry['time']),
        'previous_version': entry['previous_version'],
        'previous_image_id': entry['previous_image_id'],
    }


def history_ranks(entries):
    """Image ID -> position of its newest entry in ``entries`` counted from the newest (0 = last entry)."""
    ranks = {}
    for position, entry in enumerate(sorted(entries, key=lambda e: e['seq'], reverse=True)):
        ranks.setdefault(entry['image_id'], position)
    return ranks


def _known_names(store):
    return sorted(set(record['name'] for record in store.images() if record['name']))


def check_known_name(store, name):
    """Fail unless the catalog has images of ``name``; the message lists the names it has."""
    if store.images(name):
        return
    names = _known_names(store)
    raise ChannelError('no image named %s in repository %s; %s' % (
        name, store.repository,
        'known names: %s' % ', '.join(names) if names else 'it has no images at all (bake one with '
        'playbooks/bake.yml)'))


# The test verdicts a channel takes (by allow_unverified): never an image that failed its tests.
PROMOTABLE = {False: (VERIFIED,), True: (VERIFIED, UNVERIFIED)}
# How a promotion words a version it cannot put on a channel (see ``catalog_resolve.REASONS`` for the facts).
RESOLVE_WORDS = {
    UNVERIFIED: '%(ref)s is not verified (it has not passed its image tests): only verified images can be put on '
                'a channel. Bake it with playbooks/bake.yml, or pass allow_unverified=true to promote it anyway.',
    FAILED: '%(name)s %(version)s failed its image tests (it is tagged %(failed_ref)s): it cannot be put on a '
            'channel; bake a fixed version',
    'no_version': '%(name)s has no version %(version)s in repository %(repository)s; versions: %(versions)s',
}


def read_channel(store, name, channel):
    """The state of one channel: ``pointer`` (the image record its tag points at, or None), ``entries``
    (history, oldest first) and ``stack`` (see ``replay``)."""
    entries = store.channel_entries(name, channel)
    return {
        'pointer': store.get(image_ref(store.repository, name, channel)),
        'entries': entries,
        'stack': replay(entries),
    }


def _pointer_summary(pointer, stack):
    if pointer is not None:
        return {'version': pointer['version'], 'image_id': pointer['id']}
    if stack:
        return {'version': stack[-1]['version'], 'image_id': stack[-1]['image_id']}
    return {'version': None, 'image_id': None}


def plan_channel(store, name, channel, state='present', version=None, allow_unverified=False, now=None):
    """What setting ``channel`` of ``name`` takes, without changing anything.

    ``state=present`` points the channel at ``version``; ``state=rollback`` moves it back to the assignment
    before the current one (when ``version`` is given, it must be that one, and a channel already there is
    left alone, so the rollback is idempotent).

    Returns a dict: ``changed``, ``action`` (``none``, ``promote``, ``rollback`` or ``retag``: the history is
    right but the tag is not), ``target`` (image record), ``entry`` (the new history entry, or None),
    ``before`` and ``after`` (``{version, image_id}``), ``entries`` (the history as it will be, oldest first).
    """
    check_name(name)
    check_channel(channel)
    if state not in ('present', 'rollback'):
        raise ChannelError('state must be present or rollback, got %r' % (state,))
    if state == 'present' and not version:
        raise ChannelError('pass the version to put on channel %s of %s (for example version=1.2.0)' % (channel, name))
    if version:
        version = check_version(version)
    check_known_name(store, name)
    now = now or datetime.datetime.now(datetime.timezone.utc)

    current = read_channel(store, name, channel)
    pointer, entries, stack = current['pointer'], current['entries'], current['stack']
    before = _pointer_summary(pointer, stack)
    top = stack[-1] if stack else None

    if state == 'present':
        try:
            target = resolve_image(store, name, version, accept=PROMOTABLE[bool(allow_unverified)])[0]
        except ResolveError as exc:
            versions = dict.fromkeys(r['version'] for r in store.images(name) if r['version'] and not r['failed'])
            raise ChannelError(exc.message(RESOLVE_WORDS, repository=store.repository,
                                           versions=', '.join(versions) or 'none'))
        action = 'promote'
        already = top is not None and top['image_id'] == target['id']
    else:
        if version and top is not None and top['version'] == version:
            already = True
            target = store.get(top['image_id'])
            if target is None:
                raise ChannelError('channel %s of %s is at %s, whose image %s is no longer on the engine'
                                   % (channel, name, version, top['image_id']))
        else:
            already = False
            if len(stack) < 2:
                raise ChannelError(
                    'channel %s of %s has no earlier assignment to roll back to (history: %s)'
                    % (channel, name, ', '.join('%d %s %s' % (e['seq'], e['action'], e['version'])
                                                for e in entries) or 'empty; promote a version first'))
            back = stack[-2]
            if version and back['version'] != version:
                raise ChannelError('a rollback of channel %s of %s goes back to %s, not %s (current %s); '
                                   'promote %s instead' % (channel, name, back['version'], version,
                                                           top['version'], version))
            target = store.get(back['image_id'])
            if target is None:
                raise ChannelError('channel %s of %s cannot roll back to %s: its image %s is no longer on the engine'
                                   % (channel, name, back['version'], back['image_id']))
            if not target['verified'] and not allow_unverified:
                raise ChannelError('channel %s of %s would roll back to %s, which is not verified; pass '
                                   'allow_unverified=true to do it anyway' % (channel, name, back['version']))
        action = 'rollback'

    after = {'version': target['version'], 'image_id': target['id']}
    plan = {'changed': False, 'action': 'none', 'target': target, 'entry': None,
            'before': before, 'after': after, 'entries': list(entries)}
    if already:
        if pointer is None or pointer['id'] != target['id']:
            plan.update(changed=True, action='retag')
        return plan
    entry = {
        'name': name,
        'channel': channel,
        'seq': max([e['seq'] for e in entries] or [0]) + 1,
        'action': action,
        'version': target['version'],
        'image_id': target['id'],
        'time': now,
        'previous_version': before['version'],
        'previous_image_id': before['image_id'],
    }
    plan.update(changed=True, action=action, entry=entry, entries=list(entries) + [entry])
    return plan


def apply_channel(store, name, channel, plan):
    """Carry out a plan of ``plan_channel``: record the history entry first, then move the tag.

    Recording first makes an interrupted run safe: the next run finds the history right and only moves the tag.
    """
    if plan['entry'] is not None:
        store.add_channel_entry(plan['entry'])
    if plan['changed']:
        store.tag(plan['target']['id'], name, channel)


def set_channel(store, name, channel, state='present', version=None, allow_unverified=False, check_mode=False,
                now=None):
    """Plan and (unless ``check_mode``) apply; returns the plan."""
    plan = plan_channel(store, name, channel, state, version, allow_unverified, now)
    if plan['changed'] and not check_mode:
        apply_channel(store, name, channel, plan)
    return plan

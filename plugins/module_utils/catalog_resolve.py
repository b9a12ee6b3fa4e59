# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which image of the catalog a reference means: one resolver for an image name with a version or a channel.

``resolve_image`` is the one rule; its callers only say which test verdicts they take and word its refusals for
their users: the ``image`` lookup (``catalog_store.resolve``: verified versions, or what a channel points at), a
channel promotion (``channels.plan_channel``: verified, or unverified with ``allow_unverified``) and a fleet
rollout (``rollout.resolve_image``: verified, or anything with ``require_verified: false``).

The resolver takes an image store (``images.DockerImageStore`` or a test double: ``get(ref)``, and
``images(name)`` for ``version='latest'``) and raises ``ResolveError``, a ``CatalogError`` that carries why
(``reason``) and the facts a caller words its own message with.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.images import (
    FAILED_PREFIX, VERIFIED_PREFIX, image_ref,
)
from ansible_collections.immutable.infra.plugins.module_utils.semver import SemVerError, to_tag

VERIFIED = 'verified'
UNVERIFIED = 'unverified'
FAILED = 'failed'
STATUSES = (VERIFIED, UNVERIFIED, FAILED)

# Why a reference does not resolve (``ResolveError.reason``), with the message of a caller that words none.
# The facts are name, version, channel, ref, failed_ref (the failed-<version> tag), id and label.
REASONS = {
    'usage': 'pass exactly one of channel (for example channel=prod) or version (version=latest or '
             'version=1.2.0) to resolve %(name)s',
    'no_channel': 'channel %(channel)s of %(name)s does not exist: there is no image tagged %(ref)s',
    'other_name': '%(ref)s is not an image of %(name)s (its name label is %(label)r)',
    'no_version': '%(name)s has no version %(version)s: there is no image %(ref)s',
    'no_latest': '%(name)s has no version to take as the latest',
    UNVERIFIED: '%(name)s %(version)s is not verified (it has not passed its image tests)',
    FAILED: '%(name)s %(version)s failed its image tests (it is tagged %(failed_ref)s)',
    'no_label': '%(ref)s has no version label: it was not baked by immutable.infra',
}


class ResolveError(CatalogError):
    """A reference resolves to no image the caller takes. ``reason`` is a key of ``REASONS``; ``facts`` the
    values its message and a caller's own wording use; ``record`` the image found, when one was (refused)."""

    def __init__(self, reason, facts, record=None):
        super(ResolveError, self).__init__(REASONS[reason] % facts)
        self.reason = reason
        self.facts = facts
        self.record = record

    def message(self, words, **more):
        """The caller's message: ``words`` maps reasons to ``%(fact)s`` templates (``more`` adds facts, such as
        the versions a caller lists); a reason it does not name keeps the resolver's message."""
        if self.reason not in words:
            return str(self)
        facts = dict(self.facts, **more)
        return words[self.reason] % facts


def image_status(record):
    """The test verdict of an image record: ``verified``, ``failed`` or ``unverified`` (not tested yet)."""
    if record['verified']:
        return VERIFIED
    if record['failed']:
        return FAILED
    return UNVERIFIED


def _ref(store, name, version, prefix=''):
    """The tag ``<repository>/<name>:<prefix><version>``, or None when ``version`` is not a version."""
    try:
        return image_ref(store.repository, name, prefix + to_tag(version))
    except SemVerError:
        return None


def _candidates(store, name, version):
    """``(record, ref)`` pairs an image ``version`` of ``name`` may be found at, best first: the version tag when
    its image is verified, the verified-<version> tag (a forced rebake moved the version tag to an untested
    candidate), the version tag, the failed-<version> tag."""
    tag = to_tag(version)
    ref = image_ref(store.repository, name, tag)
    candidate = store.get(ref)
    if candidate is not None and candidate['verified']:
        return [(candidate, ref)]
    found = []
    verified_ref = image_ref(store.repository, name, VERIFIED_PREFIX + tag)
    verified = store.get(verified_ref)
    if verified is not None:
        found.append((verified, verified_ref))
    if candidate is not None:
        found.append((candidate, ref))
    if not found:
        failed_ref = image_ref(store.repository, name, FAILED_PREFIX + tag)
        failed = store.get(failed_ref)
        if failed is not None:
            found.append((failed, failed_ref))
    return found


def resolve_image(store, name, version=None, channel=None, accept=(VERIFIED,)):
    """The image of the catalog that ``name`` with ``version`` or ``channel`` (exactly one) means, as
    ``(record, ref)``: the image record and the tag it was found by.

    ``channel``: the image its tag points at. ``version='1.2.0'``: the image of that version, the verified one
    when there is one. ``version='latest'``: of the images of ``name`` with a verdict in ``accept``, the one with
    the highest version. ``accept`` is the set of test verdicts (``STATUSES``) the caller takes; an image with
    another verdict is refused (``ResolveError`` with reason ``unverified`` or ``failed``).
    """
    facts = {'name': name, 'version': version, 'channel': channel, 'ref': None, 'failed_ref': None, 'id': None,
             'label': None}
    if (channel is None) == (version is None):
        raise ResolveError('usage', facts)
    if channel is not None:
        ref = image_ref(store.repository, name, channel)
        found = [(store.get(ref), ref)]
        facts['ref'] = ref
        if found[0][0] is None:
            raise ResolveError('no_channel', facts)
    elif version == 'latest':
        found = [(r, _ref(store, name, r['version'])) for r in store.images(name)
                 if r['version'] and r['name'] == name and image_status(r) in accept]
        if not found:
            raise ResolveError('no_latest', facts)
    else:
        facts['ref'] = image_ref(store.repository, name, to_tag(version))
        found = _candidates(store, name, version)
        if not found:
            raise ResolveError('no_version', facts)
    for record, ref in found:
        _check(store, name, channel, facts, record, ref)
        if image_status(record) in accept:
            return record, ref
    # Refused: say so of the best one found.
    record, ref = found[0]
    _check(store, name, channel, facts, record, ref)
    raise ResolveError(image_status(record), facts, record)


def _check(store, name, channel, facts, record, ref):
    """Check that ``record`` (found by ``ref``) is an image of the catalog's ``name``, and update ``facts`` for it.
    Raises ``ResolveError`` (``other_name``, ``no_label``) otherwise."""
    facts.update(ref=ref, id=record['id'], label=record['name'])
    if record['name'] != name:
        raise ResolveError('other_name', facts, record)
    if not record['version']:
        raise ResolveError('no_label', facts, record)
    if channel is not None:
        facts['version'] = record['version']
    facts['failed_ref'] = _ref(store, name, facts['version'], FAILED_PREFIX)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Semantic Versioning 2.0.0 (https://semver.org/spec/v2.0.0.html), standard library only.

Parsing follows the grammar of the specification exactly (the spec's own regular expression, restricted to
ASCII digits). Precedence follows section 11:

* MAJOR, MINOR and PATCH are compared numerically;
* a version with a pre-release has lower precedence than the same version without one;
* pre-release identifiers are compared left to right: numeric identifiers numerically, alphanumeric ones in
  ASCII order, a numeric identifier is lower than an alphanumeric one, and when all shared identifiers are
  equal the shorter set is lower;
* build metadata is ignored.

Two versions that differ only in build metadata (``1.2.0+build.1`` and ``1.2.0+build.2``) have the same
precedence but are different versions (different images): ``==`` and ``hash()`` use the full version string,
while ``<``, ``<=``, ``>``, ``>=``, :func:`compare` and :attr:`SemVer.precedence_key` use precedence.

Docker tags cannot hold ``+``, so :func:`to_tag` writes build metadata after ``_`` and :func:`from_tag` reads
it back (see docs/architecture.md).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re


EXAMPLE = 'expected MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.2.0-rc.1'

_NUMERIC = r'0|[1-9][0-9]*'
_PRE_IDENTIFIER = r'(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)'
_BUILD_IDENTIFIER = r'[0-9a-zA-Z-]+'

# The regular expression suggested by semver.org, with \d spelled [0-9] (Python's \d matches any Unicode digit).
SEMVER_RE = re.compile(
    r'(?P<major>' + _NUMERIC + r')'
    r'\.(?P<minor>' + _NUMERIC + r')'
    r'\.(?P<patch>' + _NUMERIC + r')'
    r'(?:-(?P<prerelease>' + _PRE_IDENTIFIER + r'(?:\.' + _PRE_IDENTIFIER + r')*))?'
    r'(?:\+(?P<build>' + _BUILD_IDENTIFIER + r'(?:\.' + _BUILD_IDENTIFIER + r')*))?'
)

_DIGITS_RE = re.compile(r'[0-9]+')
_IDENTIFIER_CHARS_RE = re.compile(r'[0-9a-zA-Z-]+')

# Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
TAG_MAX_LENGTH = 128


class SemVerError(ValueError):
    """Raised for any string that is not a semantic version; the message says why and shows a valid one."""


def _invalid(text, reason):
    if isinstance(text, str):
        shown = "'%s'" % text
    else:
        shown = '%r (%s)' % (text, type(text).__name__)
    return SemVerError('%s is not a valid semantic version: %s (%s)' % (shown, reason, EXAMPLE))


def _check_identifiers(kind, identifiers, numeric_leading_zero_forbidden):
    """Return the reason why a dot-separated identifier list is invalid, or None."""
    for identifier in identifiers:
        if identifier == '':
            return 'the %s has an empty identifier (identifiers are separated by single dots)' % kind
        if not _IDENTIFIER_CHARS_RE.fullmatch(identifier):
            return ("the %s identifier '%s' may only contain ASCII letters, digits and hyphens"
                    % (kind, identifier))
        if (numeric_leading_zero_forbidden and _DIGITS_RE.fullmatch(identifier)
                and len(identifier) > 1 and identifier[0] == '0'):
            return "the numeric %s identifier '%s' has a leading zero" % (kind, identifier)
    return None


def _diagnose(text):
    """Explain why ``text`` (which failed the grammar) is not a semantic version."""
    if text == '':
        return 'it is empty'
    if text != text.strip():
        return 'it has leading or trailing whitespace'
    if text[0] in 'vV' and SEMVER_RE.fullmatch(text[1:]):
        return "remove the leading '%s'" % text[0]

    core, build_sep, build = text.partition('+')
    core, pre_sep, prerelease = core.partition('-')

    numbers = core.split('.')
    if len(numbers) != 3:
        return 'it needs three dot-separated numbers before any pre-release or build part, found %d' % len(numbers)
    for label, number in zip(('major', 'minor', 'patch'), numbers):
        if number == '':
            return 'the %s version is empty' % label
        if not _DIGITS_RE.fullmatch(number):
            return "the %s version '%s' is not a number" % (label, number)
        if len(number) > 1 and number[0] == '0':
            return "the %s version '%s' has a leading zero" % (label, number)

    if pre_sep:
        if prerelease == '':
            return "the pre-release after '-' is empty"
        reason = _check_identifiers('pre-release', prerelease.split('.'), True)
        if reason:
            return reason
    if build_sep:
        if build == '':
            return "the build metadata after '+' is empty"
        if '+' in build:
            return "it has more than one '+'"
        reason = _check_identifiers('build metadata', build.split('.'), False)
        if reason:
            return reason
    return 'it does not follow the Semantic Versioning 2.0.0 grammar'


def _precedence_identifier(identifier):
    # Numeric identifiers sort before alphanumeric ones; each kind is compared within its own slot.
    if _DIGITS_RE.fullmatch(identifier):
        return (0, int(identifier), '')
    return (1, 0, identifier)


class SemVer:
    """One parsed semantic version.

    ``major``, ``minor`` and ``patch`` are ints; ``prerelease`` and ``build`` are tuples of the identifier
    strings exactly as written (``1.0.0-rc.1+b.7`` has ``prerelease == ('rc', '1')`` and ``build == ('b', '7')``).
    ``str(version)`` is the version as written.
    """

    __slots__ = ('major', 'minor', 'patch', 'prerelease', 'build', '_text', '_key')

    def __init__(self, major, minor, patch, prerelease=(), build=()):
        for label, number in (('major', major), ('minor', minor), ('patch', patch)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise SemVerError('the %s version must be a non-negative integer, got %r (%s)'
                                  % (label, number, EXAMPLE))
        prerelease = tuple(str(identifier) for identifier in prerelease)
        build = tuple(str(identifier) for identifier in build)
        text = '%d.%d.%d' % (major, minor, patch)
        if prerelease:
            text += '-' + '.'.join(prerelease)
        if build:
            text += '+' + '.'.join(build)
        if not SEMVER_RE.fullmatch(text):
            raise _invalid(text, _diagnose(text))
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
        self.build = build
        self._text = text
        if prerelease:
            pre_key = (0, tuple(_precedence_identifier(identifier) for identifier in prerelease))
        else:
            # A normal version ranks above every pre-release of the same MAJOR.MINOR.PATCH.
            pre_key = (1, ())
        self._key = (major, minor, patch, pre_key)

    @classmethod
    def parse(cls, text):
        """Parse ``text``; raise :class:`SemVerError` saying what is wrong when it is not a semantic version."""
        if isinstance(text, cls):
            return text
        if not isinstance(text, str):
            raise _invalid(text, 'expected a string')
        match = SEMVER_RE.fullmatch(text)
        if not match:
            raise _invalid(text, _diagnose(text))
        prerelease = match.group('prerelease')
        build = match.group('build')
        return cls(
            int(match.group('major')),
            int(match.group('minor')),
            int(match.group('patch')),
            tuple(prerelease.split('.')) if prerelease else (),
            tuple(build.split('.')) if build else (),
        )

    @property
    def precedence_key(self):
        """A tuple that orders versions by semver precedence (build metadata ignored); use as a sort key."""
        return self._key

    @property
    def is_prerelease(self):
        return bool(self.prerelease)

    @property
    def tag(self):
        """This version written as a Docker tag (see :func:`to_tag`)."""
        return to_tag(self)

    def __str__(self):
        return self._text

    def __repr__(self):
        return 'SemVer(%r)' % self._text

    # Identity: the full version string, build metadata included.
    def __eq__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._text == other._text

    def __ne__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._text != other._text

    def __hash__(self):
        return hash(self._text)

    # Ordering: precedence. a <= b and b <= a do not imply a == b when only build metadata differs.
    def __lt__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key < other._key

    def __le__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other):
        if not isinstance(other, SemVer):
            return NotImplemented
        return self._key >= other._key


def is_valid(text):
    """True when ``text`` is a string holding a semantic version."""
    return isinstance(text, str) and SEMVER_RE.fullmatch(text) is not None


def compare(a, b):
    """Compare two versions (strings or :class:`SemVer`) by precedence: -1 when a < b, 0 when equal, 1 when a > b."""
    key_a = SemVer.parse(a).precedence_key
    key_b = SemVer.parse(b).precedence_key
    return (key_a > key_b) - (key_a < key_b)


def sort_versions(versions, reverse=False):
    """Return the items of ``versions`` (strings or :class:`SemVer`) sorted by precedence, lowest first.

    Items are returned unchanged; versions of equal precedence keep their input order. The first item that is
    not a semantic version raises :class:`SemVerError` naming it.
    """
    if isinstance(versions, (str, bytes)):
        raise SemVerError('expected a list of versions, got the single string %r' % (versions,))
    keyed = [(SemVer.parse(item).precedence_key, item) for item in versions]
    keyed.sort(key=lambda pair: pair[0], reverse=bool(reverse))
    return [item for key, item in keyed]


def to_tag(version):
    """Write a version as a Docker tag: ``1.2.0+build.5`` becomes ``1.2.0_build.5``."""
    text = str(SemVer.parse(version))
    tag = text.replace('+', '_')
    if len(tag) > TAG_MAX_LENGTH:
        raise SemVerError("'%s' is too long for a Docker tag (%d characters, at most %d)"
                          % (text, len(tag), TAG_MAX_LENGTH))
    return tag


def from_tag(tag):
    """Read a version back from a Docker tag written by :func:`to_tag`; None when it is not a version tag.

    Accepts the tag alone (``1.2.0_build.5``) or a full reference (``immutable/web:1.2.0_build.5``).
    Tags such as ``latest`` or ``verified-1.2.0`` are not version tags and give None.
    """
    if not isinstance(tag, str) or '+' in tag:
        return None
    if ':' in tag:
        tag = tag.rsplit(':', 1)[1]
    if not tag or len(tag) > TAG_MAX_LENGTH:
        return None
    text = tag.replace('_', '+', 1)
    if not is_valid(text):
        return None
    return text

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Semantic version filters: semver_valid, semver_sort, semver_compare, semver_parse.

Each filter is documented in its own sidecar file next to this one (semver_valid.yml, ...).
The logic lives in module_utils/semver.py.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.immutable.infra.plugins.module_utils.semver import (
    SemVer,
    SemVerError,
    compare,
    is_valid,
    sort_versions,
    to_tag,
)


def semver_valid(value):
    """True when value is a Semantic Versioning 2.0.0 string."""
    return is_valid(value)


def semver_sort(value, reverse=False):
    """Sort a list of versions by semver precedence, lowest first (highest first with reverse=true)."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, '__iter__'):
        raise AnsibleFilterError('semver_sort expects a list of versions, got %s' % type(value).__name__)
    try:
        reverse = boolean(reverse, strict=True)
    except TypeError as e:
        raise AnsibleFilterError('semver_sort: reverse must be a boolean, got %r' % (reverse,)) from e
    try:
        return sort_versions(value, reverse=reverse)
    except SemVerError as e:
        raise AnsibleFilterError('semver_sort: %s' % e) from e


def semver_compare(value, other):
    """Compare value with other by precedence: -1, 0 or 1."""
    try:
        return compare(value, other)
    except SemVerError as e:
        raise AnsibleFilterError('semver_compare: %s' % e) from e


def semver_parse(value):
    """Split a version into its parts."""
    try:
        version = SemVer.parse(value)
        tag = to_tag(version)
    except SemVerError as e:
        raise AnsibleFilterError('semver_parse: %s' % e) from e
    return {
        'version': str(version),
        'major': version.major,
        'minor': version.minor,
        'patch': version.patch,
        'prerelease': list(version.prerelease),
        'build': list(version.build),
        'tag': tag,
    }


class FilterModule:
    """Semantic version filters."""

    def filters(self):
        return {
            'semver_valid': semver_valid,
            'semver_sort': semver_sort,
            'semver_compare': semver_compare,
            'semver_parse': semver_parse,
        }

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.immutable.infra.plugins.filter import semver as semver_filter


FILTERS = semver_filter.FilterModule().filters()
FILTER_NAMES = ['semver_valid', 'semver_sort', 'semver_compare', 'semver_parse']


def test_filter_module_exposes_the_documented_filters():
    assert sorted(FILTERS) == sorted(FILTER_NAMES)


@pytest.mark.parametrize('name', FILTER_NAMES)
def test_each_filter_has_its_sidecar_documentation(name):
    sidecar = os.path.join(os.path.dirname(semver_filter.__file__), name + '.yml')
    with open(sidecar) as handle:
        text = handle.read()
    assert 'name: %s\n' % name in text
    for key in ('DOCUMENTATION:', 'EXAMPLES:', 'RETURN:', 'version_added: 0.1.0',
                'author: immutable.infra contributors (@immutable-infra)'):
        assert key in text


@pytest.mark.parametrize('value, expected', [
    ('1.2.0', True),
    ('1.2.0-rc.1+build.5', True),
    ('1.2', False),
    ('v1.2.0', False),
    ('', False),
    (None, False),
    (1, False),
    (['1.2.0'], False),
])
def test_semver_valid(value, expected):
    assert FILTERS['semver_valid'](value) is expected


def test_semver_sort():
    versions = ['1.10.0', '1.9.0', '1.0.0-rc.1', '1.0.0']
    assert FILTERS['semver_sort'](versions) == ['1.0.0-rc.1', '1.0.0', '1.9.0', '1.10.0']
    assert FILTERS['semver_sort'](versions, reverse=True) == ['1.10.0', '1.9.0', '1.0.0', '1.0.0-rc.1']
    assert FILTERS['semver_sort'](versions, reverse='yes') == ['1.10.0', '1.9.0', '1.0.0', '1.0.0-rc.1']
    assert FILTERS['semver_sort'](tuple(versions))[0] == '1.0.0-rc.1'
    assert versions == ['1.10.0', '1.9.0', '1.0.0-rc.1', '1.0.0']


def test_semver_sort_names_the_bad_version():
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS['semver_sort'](['1.0.0', '01.2.3'])
    message = str(excinfo.value)
    assert "'01.2.3' is not a valid semantic version" in message
    assert 'leading zero' in message
    assert 'e.g. 1.2.0 or 1.2.0-rc.1' in message


@pytest.mark.parametrize('value', ['1.0.0', {'a': '1.0.0'}, None, 3])
def test_semver_sort_needs_a_list(value):
    with pytest.raises(AnsibleFilterError, match='expects a list of versions'):
        FILTERS['semver_sort'](value)


def test_semver_sort_reverse_must_be_a_boolean():
    with pytest.raises(AnsibleFilterError, match='reverse must be a boolean'):
        FILTERS['semver_sort'](['1.0.0'], reverse='sideways')


@pytest.mark.parametrize('a, b, expected', [
    ('1.0.0-rc.1', '1.0.0', -1),
    ('1.10.0', '1.9.0', 1),
    ('1.2.0+b.1', '1.2.0', 0),
    ('1.0.0-alpha.beta', '1.0.0-alpha.1', 1),
])
def test_semver_compare(a, b, expected):
    assert FILTERS['semver_compare'](a, b) == expected


def test_semver_compare_names_the_bad_version():
    with pytest.raises(AnsibleFilterError, match=r"'1\.2\.3-' is not a valid semantic version"):
        FILTERS['semver_compare']('1.0.0', '1.2.3-')


def test_semver_parse():
    assert FILTERS['semver_parse']('1.2.0-rc.1+build.5') == {
        'version': '1.2.0-rc.1+build.5',
        'major': 1,
        'minor': 2,
        'patch': 0,
        'prerelease': ['rc', '1'],
        'build': ['build', '5'],
        'tag': '1.2.0-rc.1_build.5',
    }
    assert FILTERS['semver_parse']('3.0.0') == {
        'version': '3.0.0', 'major': 3, 'minor': 0, 'patch': 0, 'prerelease': [], 'build': [], 'tag': '3.0.0'}


@pytest.mark.parametrize('value, explanation', [
    ('1.2', 'three dot-separated numbers'),
    ('v1.2.0', "remove the leading 'v'"),
    (None, 'expected a string'),
])
def test_semver_parse_refuses_invalid_versions(value, explanation):
    with pytest.raises(AnsibleFilterError) as excinfo:
        FILTERS['semver_parse'](value)
    assert 'is not a valid semantic version' in str(excinfo.value)
    assert explanation in str(excinfo.value)

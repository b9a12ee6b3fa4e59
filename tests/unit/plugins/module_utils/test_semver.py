# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re

import pytest

from hypothesis import given, settings, strategies as st

from ansible_collections.immutable.infra.plugins.module_utils.semver import (
    SemVer,
    SemVerError,
    compare,
    from_tag,
    is_valid,
    sort_versions,
    to_tag,
)


# semver.org section 11, lowest first.
SPEC_CHAIN = [
    '1.0.0-alpha',
    '1.0.0-alpha.1',
    '1.0.0-alpha.beta',
    '1.0.0-beta',
    '1.0.0-beta.2',
    '1.0.0-beta.11',
    '1.0.0-rc.1',
    '1.0.0',
]

VALID = [
    '0.0.0',
    '0.0.4',
    '1.2.3',
    '10.20.30',
    '1.1.2-prerelease+meta',
    '1.1.2+meta',
    '1.1.2+meta-valid',
    '1.0.0-alpha',
    '1.0.0-beta',
    '1.0.0-alpha.beta',
    '1.0.0-alpha.beta.1',
    '1.0.0-alpha.1',
    '1.0.0-alpha0.valid',
    '1.0.0-alpha.0valid',
    '1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay',
    '1.0.0-rc.1+build.1',
    '2.0.0-rc.1+build.123',
    '1.2.3-beta',
    '10.2.3-DEV-SNAPSHOT',
    '1.2.3-SNAPSHOT-123',
    '2.0.0+build.1848',
    '2.0.1-alpha.1227',
    '1.0.0-0A.is.legal',
    '1.0.0+0.build.1-rc.10000aaa-kk-0.1',
    '99999999999999999999999.999999999999999999.99999999999999999',
    '1.0.0-0',
    '1.0.0+01',
    '1.2.3----RC-SNAPSHOT.12.9.1--.12+788',
]

INVALID = [
    '1.2',
    '01.2.3',
    '1.2.3-',
    '1.2.3-01',
    'v1.2.3',
    '',
    '1',
    '1.2.3.4',
    '1.02.3',
    '1.2.03',
    '1.2.3+',
    '1.2.3-+',
    '1.2.3-a..b',
    '1.2.3+a..b',
    '1.2.3+a+b',
    '1.2.3-a_b',
    '1.2.3_build',
    ' 1.2.3',
    '1.2.3 ',
    '1.2.3\n',
    '+invalid',
    '-invalid',
    'alpha.beta',
    '1.0.0-alpha_beta',
    '1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788',
    '\u0661.2.3',  # ARABIC-INDIC DIGIT ONE is a digit to Python, not to the spec
    'latest',
]


@pytest.mark.parametrize('text', VALID)
def test_valid_versions_parse_and_print_as_written(text):
    assert is_valid(text)
    assert str(SemVer.parse(text)) == text


@pytest.mark.parametrize('text', INVALID)
def test_invalid_versions_are_refused(text):
    assert not is_valid(text)
    with pytest.raises(SemVerError) as excinfo:
        SemVer.parse(text)
    message = str(excinfo.value)
    assert "'%s' is not a valid semantic version" % text in message
    assert 'e.g. 1.2.0 or 1.2.0-rc.1' in message


@pytest.mark.parametrize('text, explanation', [
    ('1.2', 'three dot-separated numbers'),
    ('01.2.3', "major version '01' has a leading zero"),
    ('1.2.3-', "pre-release after '-' is empty"),
    ('1.2.3-01', "pre-release identifier '01' has a leading zero"),
    ('v1.2.3', "remove the leading 'v'"),
    ('', 'it is empty'),
    ('1.2.3+', "build metadata after '+' is empty"),
    ('1.2.3 ', 'whitespace'),
    ('1.x.3', "minor version 'x' is not a number"),
])
def test_error_message_says_what_is_wrong(text, explanation):
    with pytest.raises(SemVerError, match=re.escape(explanation)):
        SemVer.parse(text)


def test_error_message_matches_documented_form():
    with pytest.raises(SemVerError) as excinfo:
        SemVer.parse('1.2')
    assert str(excinfo.value).startswith("'1.2' is not a valid semantic version")
    assert str(excinfo.value).endswith('(expected MAJOR.MINOR.PATCH, e.g. 1.2.0 or 1.2.0-rc.1)')


@pytest.mark.parametrize('value', [None, 1, 1.2, ['1.2.3'], b'1.2.3'])
def test_non_strings_are_not_versions(value):
    assert not is_valid(value)
    with pytest.raises(SemVerError, match='expected a string'):
        SemVer.parse(value)


def test_semver_error_is_a_value_error():
    assert issubclass(SemVerError, ValueError)


def test_parts():
    version = SemVer.parse('1.20.3-rc.1+build.05')
    assert (version.major, version.minor, version.patch) == (1, 20, 3)
    assert version.prerelease == ('rc', '1')
    assert version.build == ('build', '05')
    assert version.is_prerelease
    assert not SemVer.parse('1.0.0').is_prerelease
    assert repr(version) == "SemVer('1.20.3-rc.1+build.05')"


def test_constructor_builds_and_validates():
    assert str(SemVer(1, 2, 3, ('rc', 1), ('b', '7'))) == '1.2.3-rc.1+b.7'
    with pytest.raises(SemVerError):
        SemVer(1, 2, 3, ('01',))
    with pytest.raises(SemVerError):
        SemVer(-1, 0, 0)
    with pytest.raises(SemVerError):
        SemVer(True, 0, 0)


def test_parse_returns_a_semver_unchanged():
    version = SemVer.parse('1.2.3')
    assert SemVer.parse(version) is version


def test_spec_precedence_chain():
    versions = [SemVer.parse(text) for text in SPEC_CHAIN]
    for lower, higher in zip(versions, versions[1:]):
        assert lower < higher
        assert higher > lower
        assert compare(lower, higher) == -1
        assert compare(higher, lower) == 1
        assert lower.precedence_key < higher.precedence_key


def test_spec_chain_sorts_back_from_any_order():
    assert sort_versions(reversed(SPEC_CHAIN)) == SPEC_CHAIN
    assert sort_versions(sorted(SPEC_CHAIN)) == SPEC_CHAIN
    assert sort_versions(SPEC_CHAIN, reverse=True) == SPEC_CHAIN[::-1]


def test_numbers_compare_numerically():
    assert sort_versions(['1.10.0', '1.9.0', '1.0.0-rc.1', '1.0.0']) == ['1.0.0-rc.1', '1.0.0', '1.9.0', '1.10.0']
    assert sorted(['1.10.0', '1.9.0', '1.0.0', '1.0.0-rc.1'], key=lambda v: SemVer.parse(v).precedence_key) == [
        '1.0.0-rc.1', '1.0.0', '1.9.0', '1.10.0']
    assert compare('2.0.0', '10.0.0') == -1
    assert compare('1.0.10', '1.0.9') == 1
    assert compare('1.0.0-rc.10', '1.0.0-rc.9') == 1


def test_numeric_identifier_lower_than_alphanumeric():
    assert compare('1.0.0-1', '1.0.0-a') == -1
    assert compare('1.0.0-999', '1.0.0-0a') == -1
    assert compare('1.0.0-alpha.1', '1.0.0-alpha.a') == -1


def test_alphanumeric_identifiers_compare_in_ascii_order():
    assert compare('1.0.0-Z', '1.0.0-a') == -1
    assert compare('1.0.0--', '1.0.0-0a') == -1


def test_build_metadata_is_ignored_for_precedence_but_not_identity():
    a = SemVer.parse('1.2.0+build.1')
    b = SemVer.parse('1.2.0+build.2')
    assert compare(a, b) == 0
    assert a.precedence_key == b.precedence_key
    assert a <= b and b <= a
    assert not a < b and not b < a
    assert a != b
    assert len({a, b}) == 2
    assert a == SemVer.parse('1.2.0+build.1')
    assert hash(a) == hash(SemVer.parse('1.2.0+build.1'))


def test_sort_is_stable_for_equal_precedence():
    assert sort_versions(['1.0.0+b', '1.0.0+a', '1.0.0']) == ['1.0.0+b', '1.0.0+a', '1.0.0']


def test_sort_returns_items_unchanged():
    versions = [SemVer.parse('2.0.0'), SemVer.parse('1.0.0')]
    assert sort_versions(versions) == versions[::-1]
    assert sort_versions([]) == []


def test_sort_names_the_bad_version():
    with pytest.raises(SemVerError, match=r"'1\.2' is not a valid semantic version"):
        sort_versions(['1.0.0', '1.2', '2.0.0'])


def test_sort_refuses_a_single_string():
    with pytest.raises(SemVerError, match='list of versions'):
        sort_versions('1.0.0')


def test_compare_names_the_bad_version():
    with pytest.raises(SemVerError, match=r"'v2\.0\.0'"):
        compare('1.0.0', 'v2.0.0')


def test_comparison_with_other_types_is_not_supported():
    version = SemVer.parse('1.0.0')
    assert version != '1.0.0'
    with pytest.raises(TypeError):
        assert version < '2.0.0'


@pytest.mark.parametrize('version, tag', [
    ('1.2.0', '1.2.0'),
    ('1.2.0-rc.1', '1.2.0-rc.1'),
    ('1.2.0+build.5', '1.2.0_build.5'),
    ('1.2.0-rc.1+build-5.x', '1.2.0-rc.1_build-5.x'),
])
def test_tag_round_trip(version, tag):
    assert to_tag(version) == tag
    assert to_tag(SemVer.parse(version)) == tag
    assert SemVer.parse(version).tag == tag
    assert from_tag(tag) == version
    assert from_tag('immutable/web:' + tag) == version


@pytest.mark.parametrize('tag', [
    'latest', 'verified-1.2.0', '1.2', 'v1.2.0', '1.2.0_a_b', '1.2.0+build', '', 'immutable/web',
    'localhost:5000/immutable/web', 'immutable/web@sha256:' + 'a' * 64, None, 12,
])
def test_from_tag_is_none_for_other_tags(tag):
    assert from_tag(tag) is None


def test_to_tag_refuses_invalid_versions_and_too_long_tags():
    with pytest.raises(SemVerError, match="'1.2'"):
        to_tag('1.2')
    with pytest.raises(SemVerError, match='too long for a Docker tag'):
        to_tag('1.0.0+' + 'a' * 130)


# Property tests: generated versions against a literal reading of the specification.

_numeric = st.integers(min_value=0, max_value=10 ** 20).map(str)
_alphanumeric = st.text(alphabet='0123456789abzAZ-', min_size=1, max_size=6).filter(
    lambda identifier: not identifier.isdigit())
_pre_identifier = st.one_of(_numeric, _alphanumeric)
_build_identifier = st.text(alphabet='0123456789abzAZ-', min_size=1, max_size=6)


@st.composite
def versions(draw):
    core = '.'.join(draw(st.sampled_from(['0', '1', '2', '10'])) for unused in range(3))
    prerelease = draw(st.lists(_pre_identifier, max_size=4))
    build = draw(st.lists(_build_identifier, max_size=3))
    text = core
    if prerelease:
        text += '-' + '.'.join(prerelease)
    if build:
        text += '+' + '.'.join(build)
    return text


def _spec_compare(a, b):
    """Section 11 of semver.org, read literally, on strings."""
    def split(text):
        text = text.split('+', 1)[0]
        core, unused, prerelease = text.partition('-')
        return [int(part) for part in core.split('.')], prerelease.split('.') if prerelease else []

    def cmp(x, y):
        return (x > y) - (x < y)

    core_a, pre_a = split(a)
    core_b, pre_b = split(b)
    if core_a != core_b:
        return cmp(core_a, core_b)
    if not pre_a or not pre_b:
        # A version without pre-release is higher; two without are equal.
        return cmp(not pre_a, not pre_b)
    for x, y in zip(pre_a, pre_b):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return cmp(int(x), int(y))
        if x.isdigit() or y.isdigit():
            return -1 if x.isdigit() else 1
        return cmp(x, y)
    return cmp(len(pre_a), len(pre_b))


# The regular expression published on semver.org, as the reference grammar.
SPEC_RE = re.compile(
    r'^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    r'(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$', re.ASCII)


@settings(max_examples=300, deadline=None)
@given(versions())
def test_generated_versions_parse_and_round_trip_through_tags(text):
    assert is_valid(text)
    assert str(SemVer.parse(text)) == text
    assert from_tag(to_tag(text)) == text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='0123456789.-+_abvAZ \u0661', max_size=16))
def test_grammar_matches_the_spec_regex(text):
    expected = SPEC_RE.fullmatch(text) is not None and not text.endswith('\n')
    assert is_valid(text) == expected
    if not expected:
        with pytest.raises(SemVerError):
            SemVer.parse(text)


@settings(max_examples=500, deadline=None)
@given(versions(), versions())
def test_compare_follows_the_spec(first, second):
    assert compare(first, second) == _spec_compare(first, second)
    assert compare(second, first) == -compare(first, second)
    key_a, key_b = SemVer.parse(first).precedence_key, SemVer.parse(second).precedence_key
    assert ((key_a > key_b) - (key_a < key_b)) == compare(first, second)
    assert (SemVer.parse(first) < SemVer.parse(second)) == (compare(first, second) < 0)
    assert (SemVer.parse(first) >= SemVer.parse(second)) == (compare(first, second) >= 0)
    # Equal precedence exactly when the versions differ in build metadata only.
    assert (compare(first, second) == 0) == (first.split('+', 1)[0] == second.split('+', 1)[0])


@settings(max_examples=300, deadline=None)
@given(st.lists(versions(), max_size=12), st.booleans())
def test_sorting_is_consistent_with_compare_and_a_total_preorder(items, reverse):
    result = sort_versions(items, reverse=reverse)
    assert sorted(result) == sorted(items)
    sign = -1 if reverse else 1
    for lower, higher in zip(result, result[1:]):
        assert sign * compare(lower, higher) <= 0
    # Total: any two are comparable; reflexive; transitive over every triple.
    for a in items:
        assert compare(a, a) == 0
        for b in items:
            assert compare(a, b) in (-1, 0, 1)
            for c in items[:4]:
                if compare(a, b) <= 0 and compare(b, c) <= 0:
                    assert compare(a, c) <= 0

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import datetime

import pytest

from hypothesis import given, settings, strategies as st

from ansible_collections.immutable.infra.plugins.module_utils.catalog import (
    CatalogError,
    PruneDecision,
    decide_prune,
    fleet_references,
    newest_first,
)
from ansible_collections.immutable.infra.plugins.module_utils.semver import SemVer


NOW = datetime.datetime(2026, 11, 26, 15, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
HOUR = datetime.timedelta(hours=1)


def image_id(number):
    return 'sha256:%064x' % number


def image(number, name='web', version='1.0.0', verified=True, age=10 * DAY, parent=None, in_use_by=(),
          channels=(), history_rank=None, **extra):
    record = {
        'id': image_id(number),
        'name': name,
        'version': version,
        'verified': verified,
        'created': NOW - age,
        'parent': image_id(parent) if parent is not None else None,
        'in_use_by': list(in_use_by),
        'channels': list(channels),
        'history_rank': dict(history_rank or {}),
    }
    record.update(extra)
    return record


def prune(records, keep=3, keep_history=2, grace_period=DAY, now=NOW, protect=None):
    return decide_prune(records, keep=keep, keep_history=keep_history, grace_period=grace_period, now=now,
                        protect=protect)


def kept(decision):
    return {record['id']: record['reasons'] for record in decision.keep}


def removed(decision):
    return {record['id']: record['reason'] for record in decision.remove}


def versions_of(records):
    return [record['version'] for record in records]


# Parameters.

@pytest.mark.parametrize('kwargs, message', [
    ({'keep': 0}, 'keep must be an integer >= 1'),
    ({'keep': -1}, 'keep must be an integer >= 1'),
    ({'keep': True}, 'keep must be an integer >= 1'),
    ({'keep': '3'}, 'keep must be an integer >= 1'),
    ({'keep_history': -1}, 'keep_history must be an integer >= 0'),
    ({'keep_history': 1.5}, 'keep_history must be an integer >= 0'),
    ({'grace_period': -HOUR}, 'grace_period must not be negative'),
    ({'grace_period': 3600}, 'grace_period must be a duration'),
    ({'now': datetime.datetime(2026, 11, 26)}, 'now must be a timezone-aware datetime'),
    ({'now': '2026-11-26T15:00:00Z'}, 'now must be a timezone-aware datetime'),
    ({'protect': 'web:1.0.0'}, 'protect must be a list'),
    ({'protect': ['']}, 'protect entries must be'),
    ({'protect': [None]}, 'protect entries must be'),
])
def test_invalid_parameters_raise_catalog_error(kwargs, message):
    with pytest.raises(CatalogError, match=message):
        prune([image(1)], **kwargs)


def test_catalog_error_is_a_value_error():
    assert issubclass(CatalogError, ValueError)


@pytest.mark.parametrize('change, message', [
    ({'id': ''}, 'id must be a non-empty string'),
    ({'id': 5}, 'id must be a non-empty string'),
    ({'name': ''}, 'name must be a non-empty string'),
    ({'version': '1.2'}, "'1.2' is not a valid semantic version"),
    ({'version': 'v1.0.0'}, "remove the leading 'v'"),
    ({'verified': 'yes'}, 'verified must be true or false'),
    ({'created': datetime.datetime(2026, 1, 1)}, 'created must be a timezone-aware datetime'),
    ({'created': '2026-01-01T00:00:00Z'}, 'created must be a timezone-aware datetime'),
    ({'parent': 7}, 'parent must be an image ID or None'),
    ({'in_use_by': 'web-1'}, 'in_use_by must be a list of names'),
    ({'channels': [1]}, 'channels must hold non-empty strings'),
    ({'history_rank': {'prod': -1}}, r"history_rank\['prod'\] must be an integer >= 0"),
    ({'history_rank': {'prod': True}}, r"history_rank\['prod'\] must be an integer >= 0"),
    ({'history_rank': ['prod']}, 'history_rank must map channel names'),
])
def test_invalid_records_raise_catalog_error_naming_the_image(change, message):
    record = image(1)
    record.update(change)
    with pytest.raises(CatalogError, match=message) as excinfo:
        prune([image(2, version='2.0.0'), record])
    assert str(excinfo.value).startswith('image 1 ')


@pytest.mark.parametrize('missing', ['id', 'name', 'version', 'verified', 'created'])
def test_required_record_keys(missing):
    record = image(1)
    del record[missing]
    with pytest.raises(CatalogError, match='has no %s' % missing):
        prune([record])


def test_records_must_be_dicts_in_a_list():
    with pytest.raises(CatalogError, match='image 0 must be a dict'):
        prune(['sha256:abc'])
    with pytest.raises(CatalogError, match='records must be a list'):
        prune({'id': image_id(1)})


def test_duplicate_ids_are_refused():
    with pytest.raises(CatalogError, match='appears more than once'):
        prune([image(1), image(1, version='2.0.0')])


def test_optional_keys_default_to_empty():
    record = image(1)
    for key in ('parent', 'in_use_by', 'channels', 'history_rank'):
        del record[key]
    decision = prune([record])
    assert kept(decision) == {image_id(1): ['newest 3 verified']}


def test_empty_catalog():
    decision = prune([])
    assert isinstance(decision, PruneDecision)
    assert (decision.keep, decision.remove, decision.unmatched_protect) == ([], [], [])


# Newest verified versions.

def test_keeps_the_newest_verified_versions_per_name_by_precedence():
    records = [
        image(1, version='1.9.0', age=5 * DAY),
        image(2, version='1.10.0', age=9 * DAY),  # older bake, higher version
        image(3, version='1.0.0', age=1 * DAY),
        image(4, version='1.0.0-rc.1', age=20 * DAY),
        image(5, name='lb', version='0.1.0', age=50 * DAY),
    ]
    decision = prune(records, keep=2)
    assert versions_of(decision.keep) == ['0.1.0', '1.10.0', '1.9.0']
    assert kept(decision)[image_id(2)] == ['newest 2 verified']
    assert removed(decision) == {
        image_id(3): 'not among the newest 2 verified versions of web',
        image_id(4): 'not among the newest 2 verified versions of web',
    }


def test_release_outranks_its_pre_release():
    decision = prune([image(1, version='1.0.0-rc.1', age=DAY), image(2, version='1.0.0', age=3 * DAY)], keep=1)
    assert versions_of(decision.keep) == ['1.0.0']
    assert versions_of(decision.remove) == ['1.0.0-rc.1']


def test_keep_counts_versions_and_older_bakes_of_a_kept_version_are_removed():
    records = [image(1, version='2.0.0', age=3 * DAY), image(2, version='2.0.0', age=1 * DAY),
               image(3, version='1.0.0', age=9 * DAY)]
    decision = prune(records, keep=2)
    assert sorted(kept(decision)) == [image_id(2), image_id(3)]
    assert removed(decision) == {
        image_id(1): 'older bake of web:2.0.0 (a newer verified image has the same version)'}


def test_build_metadata_makes_a_distinct_version():
    records = [image(1, version='1.0.0+b.1', age=3 * DAY), image(2, version='1.0.0+b.2', age=1 * DAY)]
    decision = prune(records, keep=2)
    assert sorted(kept(decision)) == [image_id(1), image_id(2)]
    decision = prune(records, keep=1)
    assert list(kept(decision)) == [image_id(2)]


def test_fewer_verified_versions_than_keep_keeps_them_all():
    decision = prune([image(1, version='1.0.0'), image(2, version='1.1.0')], keep=5)
    assert decision.remove == []
    assert all(reasons == ['newest 5 verified'] for reasons in kept(decision).values())


def test_unverified_images_do_not_count_towards_keep():
    records = [image(1, version='3.0.0', verified=False, age=5 * DAY), image(2, version='2.0.0'),
               image(3, version='1.0.0')]
    decision = prune(records, keep=1)
    assert list(kept(decision)) == [image_id(2)]
    assert removed(decision)[image_id(1)] == 'unverified, older than the grace period (1d)'


# Grace period.

def test_unverified_and_unlabelled_images_within_grace_are_kept():
    records = [
        image(1, version='1.1.0', verified=False, age=2 * HOUR),
        image(2, version=None, verified=False, age=23 * HOUR),
        image(3, version=None, verified=False, age=25 * HOUR),
        image(4, version='1.2.0', verified=False, age=DAY),  # exactly the grace period: no longer younger
        image(5, version='1.0.0'),
    ]
    decision = prune(records, grace_period=DAY)
    assert kept(decision) == {
        image_id(1): ['unverified, within grace period'],
        image_id(2): ['unverified, within grace period'],
        image_id(5): ['newest 3 verified'],
    }
    assert removed(decision) == {
        image_id(3): 'unverified, older than the grace period (1d)',
        image_id(4): 'unverified, older than the grace period (1d)',
    }


def test_zero_grace_period_removes_every_unused_unverified_image():
    decision = prune([image(1, version=None, verified=False, age=datetime.timedelta(0))],
                     grace_period=datetime.timedelta(0))
    assert removed(decision) == {image_id(1): 'unverified, older than the grace period (0s)'}


def test_images_from_the_future_are_within_grace():
    decision = prune([image(1, version=None, verified=False, age=-HOUR)])
    assert list(kept(decision)) == [image_id(1)]


def test_verified_without_version_is_treated_as_unverified():
    decision = prune([image(1, version=None, verified=True, age=3 * DAY)])
    assert removed(decision) == {image_id(1): 'unverified, older than the grace period (1d)'}


def test_grace_period_is_shown_readably():
    decision = prune([image(1, version=None, verified=False, age=9 * DAY)],
                     grace_period=datetime.timedelta(days=2, hours=3, minutes=4, seconds=5))
    assert removed(decision)[image_id(1)] == 'unverified, older than the grace period (2d3h4m5s)'


# Never removed: in use, channel targets, history, protected.

def test_images_used_by_containers_are_kept():
    records = [image(1, version='1.0.0', in_use_by=['web-1', 'web-2']), image(2, version='2.0.0'),
               image(3, version=None, verified=False, age=30 * DAY, in_use_by=['debug'])]
    decision = prune(records, keep=1)
    assert kept(decision) == {
        image_id(1): ['used by container web-1', 'used by container web-2'],
        image_id(2): ['newest 1 verified'],
        image_id(3): ['used by container debug', ],
    }
    assert decision.remove == []


def test_channel_targets_are_kept():
    records = [image(1, version='1.0.0', channels=['prod'], history_rank={'prod': 0, 'staging': 1}),
               image(2, version='1.1.0', channels=['staging'], history_rank={'staging': 0}),
               image(3, version='2.0.0')]
    decision = prune(records, keep=1, keep_history=0)
    assert kept(decision) == {
        image_id(1): ['target of channel prod'],
        image_id(2): ['target of channel staging'],
        image_id(3): ['newest 1 verified'],
    }


def test_history_rank_zero_counts_as_a_target_even_without_channels():
    decision = prune([image(1, version='1.0.0', history_rank={'prod': 0}), image(2, version='2.0.0')], keep=1,
                     keep_history=0)
    assert kept(decision)[image_id(1)] == ['target of channel prod']


def test_unverified_channel_target_is_kept_after_grace():
    decision = prune([image(1, version='1.0.0', verified=False, age=90 * DAY, channels=['dev'])])
    assert kept(decision) == {image_id(1): ['target of channel dev']}


@pytest.mark.parametrize('keep_history, kept_ranks', [
    (0, []),
    (1, [1]),
    (2, [1, 2]),
    (5, [1, 2, 3]),
])
def test_history_ranks_up_to_keep_history_are_kept(keep_history, kept_ranks):
    records = [image(10, version='9.0.0', channels=['prod'], history_rank={'prod': 0})]
    for rank in (1, 2, 3):
        records.append(image(rank, version='1.%d.0' % rank, history_rank={'prod': rank}))
    decision = prune(records, keep=1, keep_history=keep_history)
    for rank in (1, 2, 3):
        if rank in kept_ranks:
            assert kept(decision)[image_id(rank)] == ['in history of channel prod (entry %d)' % rank]
        else:
            assert image_id(rank) in removed(decision)
    assert kept(decision)[image_id(10)] == ['target of channel prod', 'newest 1 verified']


def test_history_of_several_channels():
    records = [image(1, version='1.0.0', history_rank={'prod': 2, 'dev': 5}), image(2, version='3.0.0')]
    decision = prune(records, keep=1, keep_history=2)
    assert kept(decision)[image_id(1)] == ['in history of channel prod (entry 2)']


@pytest.mark.parametrize('entry', [
    image_id(1),
    '%064x' % 1,
    ('%064x' % 1)[:12],
    'sha256:' + ('%064x' % 1)[:12],
    'web:1.0.0',
    'immutable/web:1.0.0',
    'immutable/web:verified-1.0.0',
    'registry.example:5000/immutable/web:1.0.0',
])
def test_protect_by_id_name_version_or_tag(entry):
    records = [image(1, version='1.0.0'), image(2, version='2.0.0')]
    decision = prune(records, keep=1, protect=[entry])
    assert kept(decision)[image_id(1)] == ['protected']
    assert decision.unmatched_protect == []


def test_protect_version_with_build_metadata_by_version_or_tag():
    records = [image(1, version='1.0.0+b.5', verified=False, age=30 * DAY)]
    for entry in ('web:1.0.0+b.5', 'web:1.0.0_b.5', 'immutable/web:1.0.0_b.5'):
        assert kept(prune(records, protect=[entry])) == {image_id(1): ['protected']}
    assert image_id(1) in removed(prune(records, protect=['web:1.0.0']))


def test_protect_by_a_tag_listed_on_the_record():
    records = [image(1, version=None, verified=False, age=30 * DAY, tags=['immutable/web:debug'])]
    assert kept(prune(records, protect=['immutable/web:debug'])) == {image_id(1): ['protected']}


def test_protect_entries_that_match_nothing_are_reported():
    records = [image(1, version='1.0.0')]
    decision = prune(records, protect=['web:9.9.9', 'lb:1.0.0', '%064x' % 2, 'abc', 'web:1.0.0'])
    assert decision.unmatched_protect == ['web:9.9.9', 'lb:1.0.0', '%064x' % 2, 'abc']
    assert kept(decision)[image_id(1)] == ['protected', 'newest 3 verified']


def test_short_id_prefix_must_be_long_enough():
    decision = prune([image(1, version=None, verified=False, age=30 * DAY)], protect=['0000'])
    assert decision.unmatched_protect == ['0000']
    assert image_id(1) in removed(decision)


# Parents.

def test_parent_of_a_kept_image_is_kept_transitively():
    records = [
        image(1, name='base', version='1.0.0', age=90 * DAY),
        image(2, name='base', version='1.1.0', age=80 * DAY, parent=1),   # base rebuilt on top of base
        image(3, name='base', version='2.0.0', age=2 * DAY),
        image(4, name='web', version='1.0.0', age=70 * DAY, parent=2, in_use_by=['web-1']),
        image(5, name='web', version='2.0.0', age=DAY, parent=3),
    ]
    decision = prune(records, keep=1)
    assert kept(decision) == {
        image_id(1): ['parent of kept image base:1.1.0'],
        image_id(2): ['parent of kept image web:1.0.0'],
        image_id(3): ['newest 1 verified', 'parent of kept image web:2.0.0'],
        image_id(4): ['used by container web-1'],
        image_id(5): ['newest 1 verified'],
    }
    assert decision.remove == []


def test_parent_kept_for_every_kept_child():
    records = [image(1, name='base', version='1.0.0', age=50 * DAY), image(2, name='base', version='2.0.0'),
               image(3, version='1.0.0', parent=1, age=3 * DAY, channels=['prod']),
               image(4, name='lb', version=None, verified=False, age=HOUR, parent=1)]
    decision = prune(records, keep=1)
    assert kept(decision)[image_id(1)] == ['parent of kept image web:1.0.0', 'parent of kept image lb@%s'
                                           % ('%064x' % 4)[:12]]


def test_parent_of_a_removed_image_is_not_kept_for_it():
    records = [image(1, name='base', version='1.0.0', age=50 * DAY), image(2, name='base', version='2.0.0'),
               image(3, version='1.0.0', parent=1, age=40 * DAY), image(4, version='2.0.0', parent=2)]
    decision = prune(records, keep=1)
    assert sorted(removed(decision)) == [image_id(1), image_id(3)]


def test_parent_outside_the_catalog_is_ignored():
    record = image(1, version='1.0.0')
    record['parent'] = 'sha256:' + 'f' * 64
    decision = prune([record])
    assert kept(decision) == {image_id(1): ['newest 3 verified']}


def test_parent_ids_match_with_or_without_sha256_prefix():
    records = [image(1, name='base', version='1.0.0', age=50 * DAY), image(2, name='base', version='2.0.0'),
               image(3, version='1.0.0', in_use_by=['web-1'])]
    records[2]['parent'] = '%064x' % 1
    decision = prune(records, keep=1)
    assert kept(decision)[image_id(1)] == ['parent of kept image web:1.0.0']


def test_parent_cycles_terminate():
    records = [image(1, version=None, verified=False, age=9 * DAY, parent=2),
               image(2, version=None, verified=False, age=9 * DAY, parent=1),
               image(3, version=None, verified=False, age=9 * DAY, parent=3)]
    assert sorted(removed(prune(records))) == [image_id(1), image_id(2), image_id(3)]
    records[0]['in_use_by'] = ['x']
    assert sorted(kept(prune(records))) == [image_id(1), image_id(2)]


def test_removal_lists_children_before_parents():
    records = [
        image(1, name='base', version='1.0.0', age=90 * DAY),
        image(2, name='base', version='1.1.0', age=80 * DAY, parent=1),
        image(3, name='web', version='1.0.0', age=70 * DAY, parent=2),
        image(4, name='lb', version='1.0.0', age=70 * DAY, parent=1),
        image(5, name='base', version='9.0.0', age=DAY),
        image(6, name='web', version='9.0.0', age=DAY),
        image(7, name='lb', version='9.0.0', age=DAY),
    ]
    order = [record['id'] for record in prune(records, keep=1).remove]
    assert sorted(order) == [image_id(n) for n in (1, 2, 3, 4)]
    assert order.index(image_id(3)) < order.index(image_id(2)) < order.index(image_id(1))
    assert order.index(image_id(4)) < order.index(image_id(1))


# Several reasons, output shape, purity.

def test_all_reasons_are_listed():
    records = [image(1, version='2.0.0', in_use_by=['web-1'], channels=['prod'], history_rank={'prod': 0, 'dev': 1}),
               image(2, version='2.1.0', parent=1, in_use_by=['web-2'])]
    decision = prune(records, keep=3, keep_history=1, protect=['web:2.0.0'])
    assert kept(decision)[image_id(1)] == [
        'protected',
        'used by container web-1',
        'target of channel prod',
        'in history of channel dev (entry 1)',
        'newest 3 verified',
        'parent of kept image web:2.1.0',
    ]


def test_every_image_is_either_kept_or_removed_and_inputs_are_untouched():
    records = [image(1, version='1.0.0', reason='stale'), image(2, version='2.0.0', reasons=['stale']),
               image(3, version=None, verified=False)]
    before = copy.deepcopy(records)
    decision = prune(records, keep=1)
    assert records == before
    assert sorted(kept(decision)) + sorted(removed(decision)) == [image_id(2), image_id(1), image_id(3)]
    for record in decision.keep:
        assert 'reason' not in record
        assert record['reasons']
    for record in decision.remove:
        assert 'reasons' not in record
        assert record['reason']
    by_id = dict((record['id'], record) for record in decision.keep + decision.remove)
    assert by_id[image_id(2)]['created'] == records[1]['created']
    assert by_id[image_id(2)]['name'] == 'web'


def test_keep_is_grouped_by_name_newest_first():
    records = [image(1, name='web', version='1.0.0'), image(2, name='base', version='1.0.0'),
               image(3, name='web', version='1.1.0'), image(4, name='base', version='0.9.0')]
    decision = prune(records)
    assert [(r['name'], r['version']) for r in decision.keep] == [
        ('base', '1.0.0'), ('base', '0.9.0'), ('web', '1.1.0'), ('web', '1.0.0')]


def test_repr_names_the_ids():
    assert 'PruneDecision(remove=[], keep=[' in repr(prune([image(1)]))


# newest_first.

def test_newest_first_orders_by_precedence_then_created():
    records = [
        image(1, version='1.9.0', age=1 * DAY),
        image(2, version='1.10.0', age=5 * DAY),
        image(3, version='1.10.0', age=2 * DAY),
        image(4, version=None, verified=False, age=3 * DAY),
        image(5, version='1.10.0-rc.1', age=0 * DAY),
        image(6, version=None, verified=False, age=1 * DAY),
        image(7, version='1.10.0+b.1', age=3 * DAY),
    ]
    assert [record['id'] for record in newest_first(records)] == [image_id(n) for n in (3, 7, 2, 5, 1, 6, 4)]


def test_newest_first_needs_only_version_and_created():
    records = [{'version': '1.0.0', 'created': NOW}, {'version': '2.0.0', 'created': NOW - DAY}]
    assert versions_of(newest_first(records)) == ['2.0.0', '1.0.0']
    assert newest_first([]) == []


def test_newest_first_refuses_bad_records():
    with pytest.raises(CatalogError, match="'01.0.0' is not a valid semantic version"):
        newest_first([{'id': 'x', 'name': 'web', 'version': '01.0.0', 'created': NOW}])
    with pytest.raises(CatalogError, match='created must be a timezone-aware datetime'):
        newest_first([{'version': '1.0.0', 'created': datetime.datetime(2026, 1, 1)}])
    with pytest.raises(CatalogError, match='must be a dict'):
        newest_first(['1.0.0'])


# Property test: random catalogs.

NAMES = ['base', 'web', 'lb']
VERSIONS = ['0.1.0', '1.0.0-rc.1', '1.0.0', '1.2.0', '1.10.0', '2.0.0-beta.2', '2.0.0-beta.11', '2.0.0']
CHANNELS = ['dev', 'prod']
CONTAINERS = ['web-1', 'web-2', 'lb-1']


@st.composite
def catalogs(draw):
    count = draw(st.integers(min_value=0, max_value=12))
    records = []
    for number in range(1, count + 1):
        version = draw(st.one_of(st.none(), st.sampled_from(VERSIONS)))
        records.append({
            'id': image_id(number),
            'name': draw(st.sampled_from(NAMES)),
            'version': version,
            'verified': draw(st.booleans()),
            'created': NOW - datetime.timedelta(hours=draw(st.integers(min_value=-2, max_value=400))),
            # Mostly earlier images, sometimes any (cycles included), sometimes outside the catalog.
            'parent': draw(st.one_of(
                st.none(),
                st.integers(min_value=1, max_value=count + 2).map(image_id),
            )),
            'in_use_by': draw(st.one_of(
                st.just([]), st.just([]), st.just([]),
                st.lists(st.sampled_from(CONTAINERS), min_size=1, max_size=2, unique=True),
            )),
            'channels': [],
            'history_rank': {},
        })
    # Channel histories: a sequence of distinct images per channel, newest first.
    if records:
        for channel in CHANNELS:
            history = draw(st.lists(st.integers(min_value=0, max_value=count - 1), max_size=5, unique=True))
            for rank, index in enumerate(history):
                records[index]['history_rank'][channel] = rank
                if rank == 0:
                    records[index]['channels'].append(channel)
    protected = draw(st.lists(st.integers(min_value=0, max_value=max(count - 1, 0)), max_size=3, unique=True)) \
        if records else []
    protect = []
    for index in protected:
        record = records[index]
        style = draw(st.sampled_from(['id', 'short', 'name_version']))
        if style == 'name_version' and record['version'] is not None:
            protect.append('%s:%s' % (record['name'], record['version']))
        elif style == 'short':
            protect.append(record['id'][len('sha256:'):len('sha256:') + 12])
        else:
            protect.append(record['id'])
    protect.append('nothing:9.9.9')
    return records, protect, protected


@settings(max_examples=400, deadline=None)
@given(catalogs(), st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=3),
       st.integers(min_value=0, max_value=100))
def test_pruning_never_removes_an_image_that_must_stay(catalog, keep, keep_history, grace_hours):
    records, protect, protected = catalog
    grace_period = datetime.timedelta(hours=grace_hours)
    before = copy.deepcopy(records)
    decision = decide_prune(records, keep=keep, keep_history=keep_history, grace_period=grace_period, now=NOW,
                            protect=protect)
    assert records == before

    kept_ids = [record['id'] for record in decision.keep]
    removed_ids = [record['id'] for record in decision.remove]
    # A partition of the catalog.
    assert sorted(kept_ids + removed_ids) == sorted(record['id'] for record in records)
    assert not set(kept_ids) & set(removed_ids)
    assert 'nothing:9.9.9' in decision.unmatched_protect

    by_id = dict((record['id'], record) for record in records)
    kept_set = set(kept_ids)
    for index in protected:
        assert records[index]['id'] in kept_set
    for record_id in removed_ids:
        record = by_id[record_id]
        assert not record['in_use_by']
        assert not record['channels']
        assert all(rank > keep_history for rank in record['history_rank'].values())
    # The parent of every kept image is kept (when it is in the catalog).
    for record_id in kept_ids:
        parent = by_id[record_id]['parent']
        if parent in by_id:
            assert parent in kept_set
    # Unverified images within the grace period are kept.
    for record in records:
        unverified = not record['verified'] or record['version'] is None
        if unverified and NOW - record['created'] < grace_period:
            assert record['id'] in kept_set
    # The newest `keep` verified versions of each name are kept.
    for name in NAMES:
        versions = set(record['version'] for record in records
                       if record['name'] == name and record['verified'] and record['version'] is not None)
        newest = sorted(versions, key=lambda version: SemVer.parse(version).precedence_key, reverse=True)[:keep]
        for version in newest:
            assert any(by_id[record_id]['name'] == name and by_id[record_id]['version'] == version
                       and by_id[record_id]['verified'] for record_id in kept_ids)
    # Every kept image says why; a parent-only reason names a kept child.
    for record in decision.keep:
        assert record['reasons']
        if all(reason.startswith('parent of kept image ') for reason in record['reasons']):
            assert any(by_id[child]['parent'] == record['id'] for child in kept_ids)
    # Children are removed before their parents (images on a parent cycle excepted).
    for position, record_id in enumerate(removed_ids):
        parent = by_id[record_id]['parent']
        if parent in removed_ids and record_id not in _ancestors(by_id, record_id):
            assert removed_ids.index(parent) > position


def _ancestors(by_id, record_id):
    found = []
    parent = by_id[record_id]['parent']
    while parent in by_id and parent not in found:
        found.append(parent)
        parent = by_id[parent]['parent']
    return found


@settings(max_examples=200, deadline=None)
@given(catalogs(), st.integers(min_value=1, max_value=3))
def test_an_image_with_no_reason_to_stay_is_removed(catalog, keep):
    records, unused_protect, unused_protected = catalog
    for record in records:
        record['in_use_by'] = []
        record['channels'] = []
        record['history_rank'] = {}
        record['parent'] = None
        record['created'] = min(record['created'], NOW)  # images from the future are within any grace period
    decision = decide_prune(records, keep=keep, keep_history=0, grace_period=datetime.timedelta(0), now=NOW)
    # Only the newest verified versions remain, at most `keep` per name.
    for name in NAMES:
        versions = [record['version'] for record in decision.keep if record['name'] == name]
        assert len(versions) == len(set(versions)) <= keep
        assert all(record['verified'] and record['version'] is not None for record in decision.keep)


# Fleets: images named by a fleet's revision history, images of a fleet being rolled out.

def entry(number, image, outcome='succeeded', previous=None, version=None):
    return {'number': number, 'image_id': image_id(image), 'version': version or '1.%d.0' % image,
            'outcome': outcome, 'previous': previous}


def fleet(name='web', history=(), lock=None):
    return {'name': name, 'history': list(history), 'lock': lock}


LOCK = {'host': 'controller', 'pid': '4242', 'operation': 'rollout of web to 1.2.0 (rolling)', 'token': 't'}


def prune_fleets(records, fleets, keep=1, **kwargs):
    return decide_prune(records, keep=keep, keep_history=0, grace_period=DAY, now=NOW, fleets=fleets, **kwargs)


def test_succeeded_history_entries_keep_their_images():
    records = [image(n, version='1.%d.0' % n) for n in (1, 2, 3, 4)]
    history = [entry(1, 1), entry(2, 2), entry(3, 3, outcome='rolled_back', previous=2), entry(4, 2, previous=2)]
    decision = prune_fleets(records, [fleet('web', history)])
    assert kept(decision) == {
        image_id(1): ['rollback target of fleet web revision 1'],
        image_id(2): ['current image of fleet web revision 4'],
        image_id(4): ['newest 1 verified'],
    }
    assert removed(decision) == {image_id(3): 'not among the newest 1 verified versions of web'}


def test_a_rollback_target_is_named_by_its_newest_entry_and_every_fleet_counts():
    records = [image(n, version='1.%d.0' % n) for n in (1, 2, 3)]
    fleets = [fleet('web', [entry(1, 1), entry(2, 2), entry(3, 1), entry(4, 2)]),
              fleet('api', [entry(1, 1)])]
    decision = prune_fleets(records, fleets)
    assert kept(decision) == {
        image_id(1): ['rollback target of fleet web revision 3', 'current image of fleet api revision 1'],
        image_id(2): ['current image of fleet web revision 4'],
        image_id(3): ['newest 1 verified'],
    }


@pytest.mark.parametrize('outcome', ['rolled_back', 'failed', 'interrupted'])
def test_entries_that_did_not_succeed_keep_nothing(outcome):
    records = [image(1, version='1.1.0'), image(2, version='1.2.0'), image(3, version='1.3.0')]
    decision = prune_fleets(records, [fleet('web', [entry(1, 1), entry(2, 2, outcome=outcome, previous=1)])])
    assert kept(decision)[image_id(1)] == ['current image of fleet web revision 1']
    assert image_id(2) in removed(decision)


def test_a_held_lock_keeps_the_rollout_target_and_the_image_that_served_before():
    # Revision 3 rolls from revision 2 (1.2.0) to 1.5.0; 1.1.0 is kept as a rollback target anyway.
    records = [image(n, version='1.%d.0' % n) for n in (1, 2, 5, 6)]
    history = [entry(1, 1), entry(2, 2, previous=1), entry(3, 5, outcome='in_progress', previous=2)]
    decision = prune_fleets(records, [fleet('web', history, lock=LOCK)])
    assert kept(decision) == {
        image_id(1): ['rollback target of fleet web revision 1'],
        image_id(2): ['current image of fleet web revision 2', 'fleet web is being rolled out (lock held)'],
        image_id(5): ['fleet web is being rolled out (lock held)'],
        image_id(6): ['newest 1 verified'],
    }
    assert decision.remove == []


def test_the_image_that_served_before_is_found_by_the_previous_revision_number():
    # Revision 3 failed and so did its rollback: its image served before revision 4 (its previous).
    records = [image(n, version='1.%d.0' % n) for n in (1, 2, 3, 4, 9)]
    history = [entry(1, 1), entry(2, 2, previous=1), entry(3, 3, outcome='failed', previous=2),
               entry(4, 4, outcome='in_progress', previous=3)]
    decision = prune_fleets(records, [fleet('web', history, lock=LOCK)])
    reasons = kept(decision)
    assert reasons[image_id(3)] == ['fleet web is being rolled out (lock held)']
    assert reasons[image_id(4)] == ['fleet web is being rolled out (lock held)']
    assert reasons[image_id(2)] == ['current image of fleet web revision 2', 'fleet web is being rolled out (lock held)']


def test_a_held_lock_before_the_rollout_wrote_its_entry_keeps_the_current_image():
    records = [image(1, version='1.1.0'), image(2, version='1.2.0')]
    decision = prune_fleets(records, [fleet('web', [entry(1, 1)], lock=LOCK)])
    assert kept(decision)[image_id(1)] == ['current image of fleet web revision 1',
                                           'fleet web is being rolled out (lock held)']


def test_a_held_lock_that_names_its_target_keeps_it_before_the_entry_exists():
    """The lock carries the image the rollout rolls to, so there is no moment where the target is unknown."""
    records = [image(1, version='1.1.0'), image(2, version='1.2.0'), image(3, version='1.3.0')]
    decision = prune_fleets(records, [fleet('web', [entry(1, 1)], lock=dict(LOCK, image_id=image_id(2)))])
    assert kept(decision)[image_id(2)] == ['fleet web is being rolled out (lock held)']
    # Without it (a lock taken by an older controller), that image would go.
    assert image_id(2) in removed(prune_fleets(records, [fleet('web', [entry(1, 1)], lock=LOCK)]))


def test_an_unfinished_rollout_without_a_lock_keeps_its_images():
    records = [image(1, version='1.1.0'), image(2, version='1.2.0'), image(3, version='1.3.0')]
    history = [entry(1, 1), entry(2, 2, outcome='in_progress', previous=1)]
    decision = prune_fleets(records, [fleet('web', history)])
    assert kept(decision)[image_id(2)] == ['fleet web has an unfinished rollout (revision 2 in progress)']
    assert kept(decision)[image_id(1)] == ['current image of fleet web revision 1',
                                           'fleet web has an unfinished rollout (revision 2 in progress)']


def test_a_first_deploy_in_progress_keeps_its_target():
    records = [image(1, version='1.1.0'), image(2, version='1.2.0')]
    decision = prune_fleets(records, [fleet('web', [entry(1, 1, outcome='in_progress')], lock=LOCK)])
    assert kept(decision)[image_id(1)] == ['fleet web is being rolled out (lock held)']


def test_fleet_references_to_images_outside_the_catalog_are_ignored_and_ids_match_without_prefix():
    records = [image(1, version='1.1.0'), image(2, version='1.2.0')]
    history = [entry(1, 7), {'number': 2, 'image_id': '%064x' % 1, 'outcome': 'succeeded'}]
    decision = prune_fleets(records, [fleet('web', history)])
    assert kept(decision) == {image_id(1): ['current image of fleet web revision 2'],
                              image_id(2): ['newest 1 verified']}


def test_the_parent_of_an_image_a_fleet_needs_is_kept():
    records = [image(1, name='base', version='1.0.0'), image(2, name='base', version='2.0.0'),
               image(3, version='1.0.0', parent=1), image(4, version='2.0.0', parent=2)]
    decision = prune_fleets(records, [fleet('web', [entry(1, 3)])])
    assert kept(decision)[image_id(1)] == ['parent of kept image web:1.0.0']
    assert decision.remove == []


def test_fleet_reasons_come_after_channels_and_before_newest_verified():
    records = [image(1, version='1.0.0', in_use_by=['web-1'], channels=['prod'])]
    decision = prune_fleets(records, [fleet('web', [entry(1, 1)])])
    assert kept(decision)[image_id(1)] == ['used by container web-1', 'target of channel prod',
                                           'current image of fleet web revision 1', 'newest 1 verified']


@pytest.mark.parametrize('fleets, message', [
    ('web', 'fleets must be a list'),
    ({'name': 'web'}, 'fleets must be a list'),
    (['web'], 'fleet 0 must be a dict'),
    ([{'history': []}], 'fleet 0 has no name'),
    ([{'name': '', 'history': []}], 'fleet 0: name must be a non-empty string'),
    ([{'name': 'web', 'history': 'x'}], 'fleet web: history must be a list of entries'),
    ([{'name': 'web', 'history': ['x']}], 'fleet web: history entry 0 must be a dict'),
    ([{'name': 'web', 'history': [], 'lock': 'me'}], 'fleet web: lock must be the holder'),
])
def test_invalid_fleet_records_raise_catalog_error(fleets, message):
    with pytest.raises(CatalogError, match=message):
        prune_fleets([image(1)], fleets)


def test_fleet_references_are_plain_data_and_left_untouched():
    fleets = [fleet('web', [entry(1, 1), entry(2, 2, outcome='in_progress', previous=1)], lock=dict(LOCK))]
    before = copy.deepcopy(fleets)
    assert fleet_references(fleets) == {
        '%064x' % 1: ['current image of fleet web revision 1', 'fleet web is being rolled out (lock held)'],
        '%064x' % 2: ['fleet web is being rolled out (lock held)'],
    }
    assert fleets == before
    assert fleet_references([]) == fleet_references(None) == {}


FLEET_NAMES = ['web', 'api']
OUTCOMES = ['succeeded', 'succeeded', 'rolled_back', 'failed', 'interrupted']


@st.composite
def fleet_histories(draw, count):
    """Fleets whose histories name images 1..count+2 (some outside the catalog); an entry may be in progress,
    the lock may be held."""
    fleets = []
    for name in draw(st.lists(st.sampled_from(FLEET_NAMES), max_size=2, unique=True)):
        history = []
        for number in range(1, draw(st.integers(min_value=0, max_value=6)) + 1):
            history.append({
                'number': number,
                'image_id': image_id(draw(st.integers(min_value=1, max_value=count + 2))),
                'version': '1.0.0',
                'outcome': draw(st.sampled_from(OUTCOMES)),
                'previous': draw(st.one_of(st.none(), st.integers(min_value=1, max_value=max(number - 1, 1)))),
            })
        if history and draw(st.booleans()):
            # Usually the newest entry; a rerun that finds its target serving reopens an older one.
            draw(st.sampled_from(history[-1:] * 3 + history))['outcome'] = 'in_progress'
        fleets.append({'name': name, 'history': history, 'lock': dict(LOCK) if draw(st.booleans()) else None})
    return fleets


@settings(max_examples=300, deadline=None)
@given(st.data(), st.integers(min_value=1, max_value=3), st.integers(min_value=0, max_value=3))
def test_pruning_never_removes_an_image_a_fleet_may_need(data, keep, keep_history):
    records, protect, unused_protected = data.draw(catalogs())
    fleets = data.draw(fleet_histories(len(records)))
    before = copy.deepcopy(fleets)
    decision = decide_prune(records, keep=keep, keep_history=keep_history, grace_period=DAY, now=NOW,
                            protect=protect, fleets=fleets)
    assert fleets == before
    removed_ids = set(record['id'] for record in decision.remove)
    kept_reasons = dict((record['id'], record['reasons']) for record in decision.keep)
    for item in fleets:
        history = item['history']
        needed = {}
        # Every succeeded entry: the current image and every image rollback.yml may roll back to.
        for record in history:
            if record['outcome'] == 'succeeded':
                needed[record['image_id']] = 'of fleet %s revision ' % item['name']
        # A fleet being rolled out: the image it rolls to and the one that served before.
        in_progress = [record for record in history if record['outcome'] == 'in_progress']
        if item['lock'] is not None or in_progress:
            why = ('fleet %s is being rolled out (lock held)' % item['name'] if item['lock'] is not None
                   else 'fleet %s has an unfinished rollout (revision %d in progress)'
                   % (item['name'], in_progress[-1]['number']))
            for rolled in in_progress:
                needed[rolled['image_id']] = why
                for record in history:
                    if record['number'] == rolled['previous']:
                        needed[record['image_id']] = why
        for needed_id, why in needed.items():
            assert needed_id not in removed_ids
            if needed_id in kept_reasons:
                assert any(why in reason for reason in kept_reasons[needed_id]), (needed_id, why, kept_reasons)
    # Without fleets, the decision is the one of the catalog alone; fleets only ever add kept images.
    alone = decide_prune(records, keep=keep, keep_history=keep_history, grace_period=DAY, now=NOW, protect=protect)
    assert set(record['id'] for record in decision.keep) >= set(record['id'] for record in alone.keep)
    assert removed_ids <= set(record['id'] for record in alone.remove)
    # A fleet reason names an image a fleet record names.
    named = set(record['image_id'] for item in fleets for record in item['history'])
    for record_id, reasons in kept_reasons.items():
        if any(' fleet ' in ' ' + reason for reason in reasons):
            assert record_id in named, (record_id, reasons)

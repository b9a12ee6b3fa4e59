# -*- coding: utf-8 -*-
"""Channels against an in-memory engine: promote, history, rollback, refusals, check mode, idempotence."""

import datetime

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import channels
from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError

from fake_engine import add_baked, make_store

T0 = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


def at(minutes):
    return T0 + datetime.timedelta(minutes=minutes)


@pytest.fixture
def web():
    store, api = make_store()
    ids = {
        '1.0.0': add_baked(api, 'web', '1.0.0'),
        '1.1.0': add_baked(api, 'web', '1.1.0'),
        '1.2.0': add_baked(api, 'web', '1.2.0'),
        '1.3.0-rc.1': add_baked(api, 'web', '1.3.0-rc.1', verified=False),
        '1.0.1-broken': add_baked(api, 'web', '1.0.1-broken', verified=False, failed=True),
    }
    add_baked(api, 'base', '1.0.0')
    return store, api, ids


def promote(store, version, channel='prod', minute=0, **kwargs):
    return channels.set_channel(store, 'web', channel, 'present', version, now=at(minute), **kwargs)


def rollback(store, version=None, channel='prod', minute=0, **kwargs):
    return channels.set_channel(store, 'web', channel, 'rollback', version, now=at(minute), **kwargs)


def pointer(store, channel='prod'):
    record = store.get('immutable/web:%s' % channel)
    return record['version'] if record else None


# Channel names -------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['prod', 'staging', 'staging-eu', 'dev2', 'a', 'a' * 63])
def test_valid_channel_names(name):
    assert channels.channel_problem(name) is None
    assert channels.check_channel(name) == name


@pytest.mark.parametrize('name, why', [
    ('', 'lowercase'), ('Prod', 'lowercase'), ('1prod', 'starting with a letter'), ('prod_eu', 'lowercase'),
    ('a' * 64, '1 to 63'), ('prod.eu', 'lowercase'), ('latest', 'reserved'), ('verified-1.2.0', 'verdict'),
    ('failed-x', 'verdict'), (None, 'lowercase'), (3, 'lowercase'),
])
def test_invalid_channel_names_say_why(name, why):
    with pytest.raises(channels.ChannelError, match='invalid channel name') as caught:
        channels.check_channel(name)
    assert why in str(caught.value)


def test_channel_tags_are_told_from_version_and_verdict_tags():
    assert channels.is_channel('prod')
    for tag in ('1.2.0', '1.2.0_build.5', 'verified-1.2.0', 'failed-1.2.0', 'latest'):
        assert not channels.is_channel(tag)


def test_channel_error_is_a_catalog_error():
    assert issubclass(channels.ChannelError, CatalogError)


# Promote and history --------------------------------------------------------------------------------

def test_first_promote_points_the_channel_and_records_entry_1(web):
    store, api, ids = web
    plan = promote(store, '1.0.0')
    assert plan['changed'] and plan['action'] == 'promote'
    assert plan['before'] == {'version': None, 'image_id': None}
    assert plan['after'] == {'version': '1.0.0', 'image_id': ids['1.0.0']}
    assert pointer(store) == '1.0.0'
    [entry] = store.channel_entries('web', 'prod')
    assert entry['seq'] == 1 and entry['action'] == 'promote'
    assert entry['version'] == '1.0.0' and entry['image_id'] == ids['1.0.0']
    assert entry['time'] == T0
    assert entry['previous_version'] is None and entry['previous_image_id'] is None
    assert 'immutable/web.channel-history:prod-000001' in api.tags


def test_second_promote_keeps_both_in_history_with_previous_version(web):
    store, _api, ids = web
    promote(store, '1.0.0', minute=0)
    plan = promote(store, '1.1.0', minute=5)
    assert plan['before']['version'] == '1.0.0'
    entries = store.channel_entries('web', 'prod')
    assert [(e['seq'], e['version'], e['previous_version']) for e in entries] == [
        (1, '1.0.0', None), (2, '1.1.0', '1.0.0')]
    assert entries[1]['previous_image_id'] == ids['1.0.0']
    assert entries[1]['time'] == at(5)
    assert pointer(store) == '1.1.0'


def test_promoting_the_current_version_again_changes_nothing(web):
    store, api, _ids = web
    promote(store, '1.0.0')
    calls = len(api.calls)
    plan = promote(store, '1.0.0', minute=1)
    assert not plan['changed'] and plan['action'] == 'none' and plan['entry'] is None
    assert len(api.calls) == calls
    assert len(store.channel_entries('web', 'prod')) == 1


def test_check_mode_plans_the_entry_and_changes_nothing(web):
    store, api, ids = web
    promote(store, '1.0.0')
    calls = len(api.calls)
    plan = promote(store, '1.1.0', minute=3, check_mode=True)
    assert plan['changed'] and plan['entry']['seq'] == 2 and plan['entry']['version'] == '1.1.0'
    assert plan['after'] == {'version': '1.1.0', 'image_id': ids['1.1.0']}
    assert len(api.calls) == calls
    assert pointer(store) == '1.0.0'
    assert len(store.channel_entries('web', 'prod')) == 1


def test_channels_are_independent(web):
    store, _api, _ids = web
    promote(store, '1.0.0', channel='prod')
    promote(store, '1.2.0', channel='staging')
    assert pointer(store, 'prod') == '1.0.0'
    assert pointer(store, 'staging') == '1.2.0'
    assert [e['seq'] for e in store.channel_entries('web', 'staging')] == [1]


def test_a_history_only_tag_is_repaired_without_a_new_entry(web):
    store, api, ids = web
    promote(store, '1.0.0')
    promote(store, '1.1.0')
    # An interrupted run: the history was written, the tag still points at 1.0.0.
    api.tags['immutable/web:prod'] = ids['1.0.0']
    plan = promote(store, '1.1.0')
    assert plan['changed'] and plan['action'] == 'retag' and plan['entry'] is None
    assert pointer(store) == '1.1.0'
    assert len(store.channel_entries('web', 'prod')) == 2


# Refusals: nothing changes ---------------------------------------------------------------------------

def assert_refused(store, api, match, *args, **kwargs):
    calls = len(api.calls)
    with pytest.raises(channels.ChannelError, match=match):
        promote(store, *args, **kwargs)
    assert len(api.calls) == calls


def test_unverified_image_is_refused_unless_allowed(web):
    store, api, ids = web
    assert_refused(store, api, 'not verified.*allow_unverified=true', '1.3.0-rc.1', channel='dev')
    plan = promote(store, '1.3.0-rc.1', channel='dev', allow_unverified=True)
    assert plan['after']['image_id'] == ids['1.3.0-rc.1']
    assert pointer(store, 'dev') == '1.3.0-rc.1'


def test_failed_image_is_refused_even_when_unverified_is_allowed(web):
    store, api, _ids = web
    assert_refused(store, api, 'failed its image tests', '1.0.1-broken', allow_unverified=True)


def test_unknown_version_lists_the_versions(web):
    store, api, _ids = web
    assert_refused(store, api, r'web has no version 9\.9\.9 .*versions: 1\.3\.0-rc\.1, 1\.2\.0, 1\.1\.0, 1\.0\.0',
                   '9.9.9')


def test_unknown_name_lists_the_names(web):
    store, api, _ids = web
    calls = len(api.calls)
    with pytest.raises(channels.ChannelError, match='no image named api .*known names: base, web'):
        channels.set_channel(store, 'api', 'prod', 'present', '1.0.0')
    assert len(api.calls) == calls


def test_empty_catalog_says_to_bake():
    store, _api = make_store()
    with pytest.raises(channels.ChannelError, match='no images at all'):
        channels.set_channel(store, 'web', 'prod', 'present', '1.0.0')


@pytest.mark.parametrize('version', ['1.2', 'v1.2.0', 'latest', '01.2.0'])
def test_invalid_version_is_refused(web, version):
    store, api, _ids = web
    assert_refused(store, api, 'not a valid semantic version', version)


def test_invalid_channel_is_refused(web):
    store, api, _ids = web
    assert_refused(store, api, 'invalid channel name', '1.0.0', channel='Prod')
    assert_refused(store, api, 'reserved', '1.0.0', channel='latest')


def test_present_needs_a_version(web):
    store, _api, _ids = web
    with pytest.raises(channels.ChannelError, match='pass the version'):
        channels.set_channel(store, 'web', 'prod', 'present', None)


def test_a_verified_image_is_preferred_to_a_newer_unverified_rebake(web):
    store, api, ids = web
    # A forced rebake of 1.2.0 in progress: the version tag points at the untested candidate.
    candidate = add_baked(api, 'web', '1.2.0', verified=False, created='2026-02-01T00:00:00Z')
    assert api.tags['immutable/web:1.2.0'] == candidate
    plan = promote(store, '1.2.0')
    assert plan['after']['image_id'] == ids['1.2.0']


# Rollback ------------------------------------------------------------------------------------------

def test_rollback_returns_the_previous_version_as_a_new_entry(web):
    store, _api, ids = web
    promote(store, '1.0.0', minute=0)
    promote(store, '1.1.0', minute=1)
    plan = rollback(store, minute=2)
    assert plan['action'] == 'rollback'
    assert plan['before']['version'] == '1.1.0' and plan['after'] == {'version': '1.0.0', 'image_id': ids['1.0.0']}
    assert pointer(store) == '1.0.0'
    entries = store.channel_entries('web', 'prod')
    assert [(e['seq'], e['action'], e['version'], e['previous_version']) for e in entries] == [
        (1, 'promote', '1.0.0', None), (2, 'promote', '1.1.0', '1.0.0'), (3, 'rollback', '1.0.0', '1.1.0')]


def test_rollbacks_step_back_through_the_promotions(web):
    store, _api, _ids = web
    for minute, version in enumerate(['1.0.0', '1.1.0', '1.2.0']):
        promote(store, version, minute=minute)
    assert rollback(store, minute=5)['after']['version'] == '1.1.0'
    assert rollback(store, minute=6)['after']['version'] == '1.0.0'
    with pytest.raises(channels.ChannelError, match='no earlier assignment'):
        rollback(store, minute=7)
    assert pointer(store) == '1.0.0'
    # A promote after rollbacks starts a new branch; its rollback returns to where the channel was.
    promote(store, '1.2.0', minute=8)
    assert rollback(store, minute=9)['after']['version'] == '1.0.0'


def test_rollback_with_a_version_is_idempotent(web):
    store, api, _ids = web
    promote(store, '1.0.0')
    promote(store, '1.1.0')
    assert rollback(store, '1.0.0')['changed']
    calls = len(api.calls)
    again = rollback(store, '1.0.0')
    assert not again['changed'] and again['action'] == 'none'
    assert len(api.calls) == calls


def test_rollback_to_another_version_than_the_previous_is_refused(web):
    store, api, _ids = web
    promote(store, '1.0.0')
    promote(store, '1.1.0')
    promote(store, '1.2.0')
    calls = len(api.calls)
    with pytest.raises(channels.ChannelError, match='goes back to 1.1.0, not 1.0.0'):
        rollback(store, '1.0.0')
    assert len(api.calls) == calls


def test_rollback_without_history_is_refused(web):
    store, _api, _ids = web
    with pytest.raises(channels.ChannelError, match='no earlier assignment.*promote a version first'):
        rollback(store)
    promote(store, '1.0.0')
    with pytest.raises(channels.ChannelError, match=r'no earlier assignment .*1 promote 1\.0\.0'):
        rollback(store)


def test_rollback_to_an_image_that_is_gone_is_refused(web):
    store, api, ids = web
    promote(store, '1.0.0')
    promote(store, '1.1.0')
    for ref in list(api.tags):
        if api.tags[ref] == ids['1.0.0']:
            del api.tags[ref]
    del api.images_by_id[ids['1.0.0']]
    with pytest.raises(channels.ChannelError, match='no longer on the engine'):
        rollback(store)


def test_rollback_to_an_unverified_image_needs_allow_unverified(web):
    store, _api, _ids = web
    promote(store, '1.3.0-rc.1', channel='dev', allow_unverified=True)
    promote(store, '1.2.0', channel='dev')
    with pytest.raises(channels.ChannelError, match='not verified'):
        rollback(store, channel='dev')
    assert rollback(store, channel='dev', allow_unverified=True)['after']['version'] == '1.3.0-rc.1'


# Pure helpers --------------------------------------------------------------------------------------

def entry(seq, action, image_id):
    return {'seq': seq, 'action': action, 'image_id': image_id, 'version': image_id}


def test_replay_is_a_stack():
    entries = [entry(1, 'promote', 'a'), entry(2, 'promote', 'b'), entry(3, 'promote', 'c'),
               entry(4, 'rollback', 'b'), entry(5, 'promote', 'd'), entry(6, 'rollback', 'b')]
    assert [e['image_id'] for e in channels.replay(entries)] == ['a', 'b']


def test_replay_takes_an_inconsistent_rollback_as_an_assignment():
    entries = [entry(1, 'promote', 'a'), entry(2, 'promote', 'b'), entry(3, 'rollback', 'z')]
    assert channels.replay(entries)[-1]['image_id'] == 'z'


def test_history_ranks_count_entries_from_the_newest():
    entries = [entry(1, 'promote', 'a'), entry(2, 'promote', 'b'), entry(3, 'promote', 'c'),
               entry(4, 'rollback', 'b')]
    assert channels.history_ranks(entries) == {'b': 0, 'c': 1, 'a': 3}


def test_history_record_with_bad_labels_is_reported(web):
    store, api, _ids = web
    api.add_image({'io.immutable-infra.channel.seq': 'x', 'io.immutable-infra.channel.name': 'web'},
                  tags=['immutable/web.channel-history:prod-x'])
    with pytest.raises(ImageStoreError, match='not a valid channel history record'):
        store.channel_entries('web')

# -*- coding: utf-8 -*-
"""The catalog read from an in-memory engine: image_info listing and filters, prune records, the prune applied,
the lookup's resolution."""

import datetime

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import catalog_store, channels
from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.images import DockerImageStore, ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError

from fake_engine import add_baked, make_store

NOW = datetime.datetime(2026, 3, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def catalog():
    store, api = make_store()
    ids = {'base 1.0.0': add_baked(api, 'base', '1.0.0', created='2026-01-01T00:00:00Z')}
    for n, version in enumerate(['1.0.0', '1.9.0', '1.10.0', '1.10.1-rc.1', '1.2.0']):
        ids['web ' + version] = add_baked(api, 'web', version, parent=ids['base 1.0.0'],
                                          verified=version != '1.10.1-rc.1',
                                          created='2026-01-0%dT00:00:00Z' % (n + 2))
    ids['web 1.3.0-broken'] = add_baked(api, 'web', '1.3.0-broken', verified=False, failed=True,
                                        created='2026-03-01T00:00:00Z')
    return store, api, ids


def names_versions(images):
    return [(i['name'], i['version']) for i in images]


# image_info ----------------------------------------------------------------------------------------

def test_images_are_listed_by_name_newest_first_by_semver_precedence(catalog):
    store, _api, _ids = catalog
    images, channels_ = catalog_store.list_catalog(store)
    assert names_versions(images) == [
        ('base', '1.0.0'),
        ('web', '1.10.1-rc.1'), ('web', '1.10.0'), ('web', '1.9.0'), ('web', '1.3.0-broken'), ('web', '1.2.0'),
        ('web', '1.0.0')]
    assert channels_ == []


def test_an_image_record_has_what_the_catalog_knows(catalog):
    store, api, ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.9.0', now=NOW)
    api.add_container('web-1', ids['web 1.9.0'], fleet='web', state='running')
    api.add_container('debug', ids['web 1.9.0'])
    [image] = catalog_store.list_catalog(store, 'web', '1.9.0')[0]
    assert image['id'] == ids['web 1.9.0']
    assert image['created'] == '2026-01-03T00:00:00Z'
    assert image['revision'] == 'abc123' and len(image['bake_key']) == 64
    assert image['parent'] == ids['base 1.0.0']
    assert image['verified'] is True and image['failed'] is False
    assert image['tags'] == ['1.9.0', 'prod', 'verified-1.9.0']
    assert image['channels'] == ['prod']
    assert image['containers'] == ['debug', 'web-1']
    assert image['fleets'] == ['web']
    [failed] = catalog_store.list_catalog(store, 'web', '1.3.0-broken')[0]
    assert failed['failed'] is True and failed['verified'] is False


def test_channels_come_with_their_history_newest_first(catalog):
    store, _api, ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.9.0', now=NOW)
    channels.set_channel(store, 'web', 'prod', 'present', '1.10.0', now=NOW + datetime.timedelta(hours=1))
    [prod] = catalog_store.list_catalog(store, 'web')[1]
    assert prod['name'] == 'web' and prod['channel'] == 'prod'
    assert prod['version'] == '1.10.0' and prod['image_id'] == ids['web 1.10.0']
    assert [(e['seq'], e['version'], e['previous_version'], e['time']) for e in prod['history']] == [
        (2, '1.10.0', '1.9.0', '2026-03-01T13:00:00Z'), (1, '1.9.0', None, '2026-03-01T12:00:00Z')]


def test_channel_filter_gives_the_image_it_points_at(catalog):
    store, _api, _ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.9.0', now=NOW)
    channels.set_channel(store, 'web', 'dev', 'present', '1.10.0', now=NOW)
    images, channels_ = catalog_store.list_catalog(store, channel='prod')
    assert names_versions(images) == [('web', '1.9.0')]
    assert [c['channel'] for c in channels_] == ['prod']


def test_version_filter_without_name_covers_every_name(catalog):
    store, _api, _ids = catalog
    images = catalog_store.list_catalog(store, version='1.0.0')[0]
    assert names_versions(images) == [('base', '1.0.0'), ('web', '1.0.0')]


@pytest.mark.parametrize('kwargs, message', [
    (dict(name='api'), 'no image named api in repository immutable; known names: base, web'),
    (dict(name='web', version='7.0.0'), r'web has no version 7\.0\.0; versions: 1\.10\.1-rc\.1, 1\.10\.0'),
    (dict(name='web', version='1.0'), 'not a valid semantic version'),
    (dict(name='web', channel='prod'), 'web has no channel prod; channels: none'),
    (dict(channel='Prod'), 'invalid channel name'),
])
def test_bad_filters_are_errors_not_empty_lists(catalog, kwargs, message):
    store, _api, _ids = catalog
    with pytest.raises(CatalogError, match=message):
        catalog_store.list_catalog(store, **kwargs)


def test_unknown_channel_lists_the_channels(catalog):
    store, _api, _ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.9.0', now=NOW)
    with pytest.raises(CatalogError, match='web has no channel staging; channels: prod'):
        catalog_store.list_catalog(store, 'web', channel='staging')


def test_empty_catalog_lists_nothing():
    store, _api = make_store()
    assert catalog_store.list_catalog(store) == ([], [])


def test_other_repositories_are_not_listed_nor_pruned(catalog):
    store, api, _ids = catalog
    other_id = add_baked(api, 'web', '5.0.0', repository='other', created='2025-01-01T00:00:00Z')
    other = DockerImageStore(store.client, 'other')
    channels.set_channel(other, 'web', 'prod', 'present', '5.0.0', now=NOW)
    images, channels_ = catalog_store.list_catalog(store, 'web')
    assert '5.0.0' not in [i['version'] for i in images]
    assert channels_ == []
    plan = catalog_store.plan_prune(store, keep=1, grace_period='0', now=NOW)
    assert other_id not in [r['id'] for r in plan['remove'] + plan['keep']]


def test_an_image_without_tags_is_in_no_catalog(catalog):
    store, api, ids = catalog
    for ref in [r for r, i in api.tags.items() if i == ids['web 1.0.0']]:
        del api.tags[ref]
    images = catalog_store.list_catalog(store, 'web')[0]
    assert ids['web 1.0.0'] not in [i['id'] for i in images]


# Prune ---------------------------------------------------------------------------------------------

def removed(plan):
    return [(r['name'], r['version']) for r in plan['remove']]


def kept(plan):
    return dict(((r['name'], r['version']), r['reasons']) for r in plan['keep'])


def test_prune_records_carry_usage_channels_and_history_ranks(catalog):
    store, api, ids = catalog
    for version in ('1.0.0', '1.2.0', '1.9.0'):
        channels.set_channel(store, 'web', 'prod', 'present', version, now=NOW)
    channels.set_channel(store, 'web', 'prod', 'rollback', now=NOW)
    api.add_container('old', ids['web 1.0.0'])
    records = dict((r['id'], r) for r in catalog_store.prune_records(store))
    assert records[ids['web 1.0.0']]['in_use_by'] == ['old']
    assert records[ids['web 1.2.0']]['channels'] == ['prod']
    assert records[ids['web 1.2.0']]['history_rank'] == {'prod': 0}
    assert records[ids['web 1.9.0']]['history_rank'] == {'prod': 1}
    assert records[ids['web 1.0.0']]['history_rank'] == {'prod': 3}
    assert records[ids['web 1.9.0']]['parent'] == ids['base 1.0.0']
    assert records[ids['web 1.9.0']]['created'] == datetime.datetime(2026, 1, 3, tzinfo=datetime.timezone.utc)
    assert 'immutable/web:verified-1.9.0' in records[ids['web 1.9.0']]['tags']


def test_prune_keeps_newest_verified_and_says_why(catalog):
    store, _api, _ids = catalog
    plan = catalog_store.plan_prune(store, 'web', keep=2, keep_history=0, grace_period='1d', now=NOW)
    assert removed(plan) == [('web', '1.10.1-rc.1'), ('web', '1.2.0'), ('web', '1.0.0')]
    assert plan['remove'][0]['reason'] == 'unverified, older than the grace period (1d)'
    assert plan['remove'][1]['reason'] == 'not among the newest 2 verified versions of web'
    assert kept(plan) == {('web', '1.10.0'): ['newest 2 verified'], ('web', '1.9.0'): ['newest 2 verified'],
                          ('web', '1.3.0-broken'): ['unverified, within grace period']}
    assert plan['remove'][1]['tags'] == ['1.2.0', 'verified-1.2.0']


def test_prune_keeps_used_channel_and_protected_images(catalog):
    store, api, ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.2.0', now=NOW)
    api.add_container('old-web', ids['web 1.0.0'])
    plan = catalog_store.plan_prune(store, 'web', keep=1, keep_history=0, grace_period='0',
                                    protect=['web:1.9.0'], now=NOW)
    reasons = kept(plan)
    assert reasons[('web', '1.0.0')] == ['used by container old-web']
    assert reasons[('web', '1.2.0')] == ['target of channel prod']
    assert reasons[('web', '1.9.0')] == ['protected']
    assert removed(plan) == [('web', '1.10.1-rc.1'), ('web', '1.3.0-broken')]


def test_prune_of_one_name_keeps_the_parent_a_kept_image_of_another_name_needs(catalog):
    store, _api, _ids = catalog
    plan = catalog_store.plan_prune(store, 'base', keep=1, grace_period='1d', now=NOW)
    assert removed(plan) == []
    assert kept(plan)[('base', '1.0.0')][0] == 'newest 1 verified'
    assert 'parent of kept image web:1.10.0' in kept(plan)[('base', '1.0.0')]
    assert all(r['name'] == 'base' for r in plan['keep'])


def test_prune_refuses_a_protect_entry_that_matches_nothing(catalog):
    store, _api, _ids = catalog
    with pytest.raises(CatalogError, match='protect entries that match no image: web:9.9.9'):
        catalog_store.plan_prune(store, 'web', protect=['web:9.9.9'], now=NOW)


@pytest.mark.parametrize('kwargs, message', [
    (dict(name='api'), 'no image named api'),
    (dict(keep=0), 'keep must be an integer >= 1'),
    (dict(keep_history=-1), 'keep_history must be an integer >= 0'),
    (dict(grace_period='1 day'), 'is not a duration'),
])
def test_prune_bad_input(catalog, kwargs, message):
    store, _api, _ids = catalog
    with pytest.raises(CatalogError, match=message):
        catalog_store.plan_prune(store, now=NOW, **kwargs)


def test_apply_prune_removes_exactly_the_plan_and_never_forces(catalog):
    store, api, ids = catalog
    plan = catalog_store.plan_prune(store, 'web', keep=2, keep_history=0, grace_period='1d', now=NOW)
    catalog_store.apply_prune(store, plan)
    left = set(api.images_by_id)
    for record in plan['remove']:
        assert record['id'] not in left
    for record in plan['keep']:
        assert record['id'] in left
    assert ids['base 1.0.0'] in left
    assert all(not force for method, (ref, force) in
               [(m, a) for m, a in api.calls if m == 'remove_image'])
    # A second run finds nothing more to remove.
    again = catalog_store.plan_prune(store, 'web', keep=2, keep_history=0, grace_period='1d', now=NOW)
    assert again['remove'] == []


def test_apply_prune_refuses_when_an_image_came_into_use_meanwhile(catalog):
    store, api, ids = catalog
    plan = catalog_store.plan_prune(store, 'web', keep=2, keep_history=0, grace_period='1d', now=NOW)
    api.add_container('late', ids['web 1.2.0'])
    before = set(api.images_by_id)
    with pytest.raises(CatalogError, match=r'in use now: web:1\.2\.0 \(late\); nothing was removed'):
        catalog_store.apply_prune(store, plan)
    assert set(api.images_by_id) == before


class FakeFleets:
    """The fleet records a prune reads through the provider: fleets(), read_history(), lock_holder()."""

    def __init__(self):
        self.histories = {}
        self.locks = {}
        self.broken = None

    def fleets(self):
        if self.broken:
            raise ProviderError(self.broken)
        return sorted(set(self.histories) | set(self.locks))

    def read_history(self, fleet):
        return [dict(entry) for entry in self.histories.get(fleet, [])]

    def lock_holder(self, fleet):
        return self.locks.get(fleet)


def fleet_entry(number, image_id, outcome='succeeded', previous=None):
    return {'number': number, 'image_id': image_id, 'version': 'x', 'outcome': outcome, 'previous': previous}


def test_prune_keeps_what_the_fleets_need_and_says_why(catalog):
    store, _api, ids = catalog
    fleets = FakeFleets()
    fleets.histories['web'] = [fleet_entry(1, ids['web 1.0.0']), fleet_entry(2, ids['web 1.2.0'], previous=1)]
    fleets.histories['api'] = [fleet_entry(1, ids['web 1.9.0']),
                               fleet_entry(2, ids['web 1.10.1-rc.1'], outcome='in_progress', previous=1)]
    fleets.locks['api'] = {'host': 'h', 'pid': '1', 'operation': 'rollout of api to 1.10.1-rc.1 (rolling)'}
    plan = catalog_store.plan_prune(store, 'web', keep=1, keep_history=0, grace_period='0', now=NOW,
                                    provider=fleets)
    reasons = kept(plan)
    assert reasons[('web', '1.0.0')] == ['rollback target of fleet web revision 1']
    assert reasons[('web', '1.2.0')] == ['current image of fleet web revision 2']
    assert reasons[('web', '1.9.0')] == ['current image of fleet api revision 1',
                                         'fleet api is being rolled out (lock held)']
    assert reasons[('web', '1.10.1-rc.1')] == ['fleet api is being rolled out (lock held)']
    assert removed(plan) == [('web', '1.3.0-broken')]
    # Without the fleet records, the same prune removes them.
    alone = catalog_store.plan_prune(store, 'web', keep=1, keep_history=0, grace_period='0', now=NOW)
    assert ('web', '1.0.0') in removed(alone) and ('web', '1.10.1-rc.1') in removed(alone)


def test_apply_prune_refuses_when_a_fleet_came_to_need_an_image_meanwhile(catalog):
    store, api, ids = catalog
    fleets = FakeFleets()
    fleets.histories['web'] = [fleet_entry(1, ids['web 1.10.0'])]
    plan = catalog_store.plan_prune(store, 'web', keep=1, keep_history=0, grace_period='0', now=NOW,
                                    provider=fleets)
    assert ('web', '1.0.0') in removed(plan)
    # A rollout to 1.0.0 starts between the decision and the removal: it holds the lock, its entry names 1.0.0.
    fleets.locks['web'] = {'host': 'h', 'pid': '1', 'operation': 'rollout of web to 1.0.0 (rolling)'}
    fleets.histories['web'].append(fleet_entry(2, ids['web 1.0.0'], outcome='in_progress', previous=1))
    before = set(api.images_by_id)
    with pytest.raises(CatalogError, match=r'in use now: web:1\.0\.0 \(fleet web is being rolled out \(lock held\)\); '
                                           r'nothing was removed'):
        catalog_store.apply_prune(store, plan, provider=fleets)
    assert set(api.images_by_id) == before
    # Once the rollout is over and nothing needs the image, the same plan goes through.
    del fleets.locks['web']
    fleets.histories['web'][-1]['outcome'] = 'rolled_back'
    catalog_store.apply_prune(store, plan, provider=fleets)
    assert ids['web 1.0.0'] not in api.images_by_id


def test_a_prune_that_cannot_read_the_fleet_records_removes_nothing(catalog):
    store, api, _ids = catalog
    fleets = FakeFleets()
    plan = catalog_store.plan_prune(store, 'web', keep=1, keep_history=0, grace_period='0', now=NOW,
                                    provider=fleets)
    assert plan['remove']
    fleets.broken = 'container web-lock exists but is not the lock of fleet web'
    before = set(api.images_by_id)
    for call in (lambda: catalog_store.plan_prune(store, 'web', keep=1, now=NOW, provider=fleets),
                 lambda: catalog_store.apply_prune(store, plan, provider=fleets)):
        with pytest.raises(CatalogError, match='cannot read the fleet records .*not the lock of fleet web; '
                                               'nothing was removed'):
            call()
    assert set(api.images_by_id) == before


def test_delete_image_fails_rather_than_force_a_used_image(catalog):
    store, api, ids = catalog
    api.add_container('user', ids['web 1.0.0'])
    with pytest.raises(ImageStoreError, match='cannot remove image'):
        store.delete_image(ids['web 1.0.0'])
    assert ids['web 1.0.0'] in api.images_by_id


def test_channel_history_records_survive_a_prune(catalog):
    store, _api, _ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.0.0', now=NOW)
    channels.set_channel(store, 'web', 'prod', 'present', '1.2.0', now=NOW)
    plan = catalog_store.plan_prune(store, keep=1, keep_history=0, grace_period='0', now=NOW)
    catalog_store.apply_prune(store, plan)
    assert ('web', '1.0.0') in removed(plan)
    assert [e['version'] for e in store.channel_entries('web', 'prod')] == ['1.0.0', '1.2.0']


# Lookup --------------------------------------------------------------------------------------------

def test_resolve_channel_latest_and_version(catalog):
    store, _api, ids = catalog
    channels.set_channel(store, 'web', 'prod', 'present', '1.9.0', now=NOW)
    assert catalog_store.resolve(store, 'web', channel='prod')['id'] == ids['web 1.9.0']
    assert catalog_store.resolve(store, 'web', version='latest')['id'] == ids['web 1.10.0']
    assert catalog_store.resolve(store, 'web', version='1.2.0')['id'] == ids['web 1.2.0']


@pytest.mark.parametrize('name, kwargs, message', [
    ('web', dict(), 'exactly one of channel'),
    ('web', dict(channel='prod', version='latest'), 'exactly one of channel'),
    ('api', dict(version='latest'), 'no image named api in repository immutable; known names: base, web'),
    ('web', dict(channel='prod'), 'web has no channel prod'),
    ('web', dict(channel='Prod'), 'invalid channel name'),
    ('web', dict(version='1.10.1-rc.1'), r'web 1\.10\.1-rc\.1 is not verified'),
    ('web', dict(version='8.0.0'), r'web has no version 8\.0\.0; verified versions: 1\.10\.0, 1\.9\.0'),
    ('web', dict(version='1.x'), 'not a valid semantic version'),
])
def test_resolve_errors(catalog, name, kwargs, message):
    store, _api, _ids = catalog
    with pytest.raises(CatalogError, match=message):
        catalog_store.resolve(store, name, **kwargs)


def test_resolve_latest_without_a_verified_version():
    store, api = make_store()
    add_baked(api, 'web', '1.0.0', verified=False)
    with pytest.raises(CatalogError, match='web has no verified version'):
        catalog_store.resolve(store, 'web', version='latest')

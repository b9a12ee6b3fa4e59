# -*- coding: utf-8 -*-
"""The one image resolver (catalog_resolve.resolve_image) against an in-memory engine: which image a name with a
version or a channel means, which test verdicts a caller takes, and why a reference does not resolve."""

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import catalog_store, channels
from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.catalog_resolve import (
    FAILED, STATUSES, UNVERIFIED, VERIFIED, ResolveError, image_status, resolve_image,
)
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError
from ansible_collections.immutable.infra.plugins.module_utils.rollout import resolve_image as rollout_target

from fake_engine import add_baked, make_store


@pytest.fixture
def web():
    store, api = make_store()
    ids = {
        '1.0.0': add_baked(api, 'web', '1.0.0', created='2026-01-01T00:00:00Z'),
        '1.1.0': add_baked(api, 'web', '1.1.0', created='2026-01-02T00:00:00Z'),
        '1.2.0-rc.1': add_baked(api, 'web', '1.2.0-rc.1', verified=False, created='2026-01-03T00:00:00Z'),
        '1.3.0': add_baked(api, 'web', '1.3.0', verified=False, failed=True, created='2026-01-04T00:00:00Z'),
    }
    return store, api, ids


def test_a_version_resolves_to_its_image_and_the_tag_it_was_found_by(web):
    store, _api, ids = web
    record, ref = resolve_image(store, 'web', '1.1.0')
    assert (record['id'], ref) == (ids['1.1.0'], 'immutable/web:1.1.0')
    assert image_status(record) == VERIFIED


def test_a_channel_resolves_to_what_its_tag_points_at_whatever_its_verdict_when_accepted(web):
    store, api, ids = web
    api.tag(ids['1.2.0-rc.1'], 'immutable/web', 'dev')
    record, ref = resolve_image(store, 'web', channel='dev', accept=STATUSES)
    assert (record['id'], ref) == (ids['1.2.0-rc.1'], 'immutable/web:dev')
    with pytest.raises(ResolveError) as refused:
        resolve_image(store, 'web', channel='dev')
    assert refused.value.reason == UNVERIFIED and refused.value.record['id'] == ids['1.2.0-rc.1']


@pytest.mark.parametrize('accept, version', [
    ((VERIFIED,), '1.1.0'),
    ((VERIFIED, UNVERIFIED), '1.2.0-rc.1'),
    (STATUSES, '1.3.0'),
])
def test_latest_is_the_highest_version_with_an_accepted_verdict(web, accept, version):
    store, _api, _ids = web
    assert resolve_image(store, 'web', 'latest', accept=accept)[0]['version'] == version


def test_a_forced_rebake_in_progress_still_resolves_to_the_verified_image(web):
    # The version tag moved to an untested candidate; verified-1.1.0 still marks the image that passed.
    store, api, ids = web
    candidate = add_baked(api, 'web', '1.1.0', verified=False, created='2026-02-01T00:00:00Z')
    assert store.find('web', '1.1.0')['id'] == candidate
    for accept in ((VERIFIED,), STATUSES):
        record, ref = resolve_image(store, 'web', '1.1.0', accept=accept)
        assert (record['id'], ref) == (ids['1.1.0'], 'immutable/web:verified-1.1.0')


@pytest.mark.parametrize('kwargs, reason', [
    (dict(), 'usage'),
    (dict(version='1.0.0', channel='prod'), 'usage'),
    (dict(channel='prod'), 'no_channel'),
    (dict(version='9.9.9'), 'no_version'),
    (dict(version='1.2.0-rc.1'), UNVERIFIED),
    (dict(version='1.3.0'), FAILED),
    (dict(version='1.3.0', accept=(VERIFIED, UNVERIFIED)), FAILED),
])
def test_why_a_reference_does_not_resolve(web, kwargs, reason):
    store, _api, _ids = web
    with pytest.raises(ResolveError) as error:
        resolve_image(store, 'web', **kwargs)
    assert error.value.reason == reason
    assert isinstance(error.value, CatalogError)


def test_an_image_of_another_name_is_refused(web):
    store, api, _ids = web
    lb = add_baked(api, 'lb', '2.0.0')
    api.tag(lb, 'immutable/web', 'prod')
    with pytest.raises(ResolveError, match=r"immutable/web:prod is not an image of web \(its name label is 'lb'\)"):
        resolve_image(store, 'web', channel='prod', accept=STATUSES)


def test_each_caller_words_the_same_refusal_its_own_way(web):
    store, _api, _ids = web
    with pytest.raises(CatalogError, match=r'web 1\.2\.0-rc\.1 is not verified .*verified versions: 1\.1\.0, 1\.0\.0'):
        catalog_store.resolve(store, 'web', version='1.2.0-rc.1')
    with pytest.raises(channels.ChannelError, match='only verified images can be put on a channel.*allow_unverified'):
        channels.plan_channel(store, 'web', 'prod', version='1.2.0-rc.1')
    with pytest.raises(FleetError, match='is not rolled out .*require_verified: false'):
        rollout_target(store, 'web', '1.2.0-rc.1')


def test_each_caller_takes_the_verdicts_its_option_allows(web):
    store, _api, ids = web
    assert channels.plan_channel(store, 'web', 'dev', version='1.2.0-rc.1', allow_unverified=True)['target']['id'] \
        == ids['1.2.0-rc.1']
    with pytest.raises(channels.ChannelError, match=r'failed its image tests \(it is tagged immutable/web:failed-1\.3\.0\)'):
        channels.plan_channel(store, 'web', 'dev', version='1.3.0', allow_unverified=True)
    target = rollout_target(store, 'web', '1.3.0', require_verified=False)
    assert (target['id'], target['ref']) == (ids['1.3.0'], 'immutable/web:failed-1.3.0')
    assert 'FAILED its image tests' in target['warning']

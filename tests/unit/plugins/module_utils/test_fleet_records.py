# -*- coding: utf-8 -*-
"""Image resolution for a fleet, and the Docker provider's records (lock, history) against a fake engine API."""

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError
from ansible_collections.immutable.infra.plugins.module_utils.provider import LockHeld
from ansible_collections.immutable.infra.plugins.module_utils.provider import docker as docker_provider
from ansible_collections.immutable.infra.plugins.module_utils.rollout import resolve_image


class Store:
    repository = 'immutable'

    def __init__(self, refs):
        self.refs = refs

    def get(self, ref):
        return self.refs.get(ref)

    def find(self, name, version):
        return self.refs.get('immutable/%s:%s' % (name, version))


def record(version, verified=True, failed=False, name='web'):
    return {'id': 'sha256:%s' % version, 'name': name, 'version': version, 'verified': verified, 'failed': failed}


def test_a_verified_version_resolves_to_its_image_id():
    store = Store({'immutable/web:1.0.0': record('1.0.0')})
    assert resolve_image(store, 'web', '1.0.0') == {
        'image': 'web', 'version': '1.0.0', 'id': 'sha256:1.0.0', 'ref': 'immutable/web:1.0.0', 'channel': None}


def test_a_channel_resolves_to_the_version_it_points_to():
    store = Store({'immutable/web:prod': record('1.1.0')})
    target = resolve_image(store, 'web', channel='prod')
    assert (target['version'], target['channel']) == ('1.1.0', 'prod')


@pytest.mark.parametrize('refs, kwargs, words', [
    ({}, {'version': '1.0.0'}, 'bake it first'),
    ({}, {'channel': 'prod'}, 'channel prod of web does not exist'),
    ({'immutable/web:prod': record('1.0.0', name='lb')}, {'channel': 'prod'}, 'not an image of web'),
    ({'immutable/web:1.0.0': record('1.0.0', verified=False)}, {'version': '1.0.0'}, 'not verified'),
    ({'immutable/web:failed-1.0.0': record('1.0.0', verified=False, failed=True)}, {'version': '1.0.0'},
     'failed its image tests'),
])
def test_missing_or_unusable_images_fail_clearly(refs, kwargs, words):
    with pytest.raises(FleetError, match=words):
        resolve_image(Store(refs), 'web', **kwargs)


def test_require_verified_false_accepts_a_failed_image_with_a_warning():
    store = Store({'immutable/web:failed-9.0.1': record('9.0.1', verified=False, failed=True)})
    target = resolve_image(store, 'web', '9.0.1', require_verified=False)
    assert target['ref'] == 'immutable/web:failed-9.0.1'
    assert 'FAILED its image tests' in target['warning']


class NotFound(Exception):
    pass


class Conflict(Exception):
    status_code = 409


class FakeAPI:
    """The low-level docker API calls the provider makes for its records."""

    def __init__(self):
        self.containers_ = {}
        self.images_ = {}
        self.tags_ = {}
        self.next_id = 0

    def inspect_container(self, ref):
        if ref not in self.containers_:
            raise NotFound(ref)
        return {'Config': {'Labels': self.containers_[ref]}}

    def create_container(self, image, name=None, labels=None, **kwargs):
        if name in self.containers_:
            raise Conflict('Conflict. The container name "/%s" is already in use' % name)
        self.containers_[name] = dict(labels)
        return {'Id': name}

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        key = filters['label']
        return [{'Id': name, 'Labels': labels} for name, labels in self.containers_.items() if key in labels]

    def remove_container(self, ref, **kwargs):
        if ref not in self.containers_:
            raise NotFound(ref)
        del self.containers_[ref]

    def images(self, filters=None):
        key, dummy, value = filters['label'].partition('=')
        return [{'Id': i, 'Labels': labels, 'RepoTags': self.tags_.get(i, [])} for i, labels in self.images_.items()
                if key in labels and (not value or labels[key] == value)]

    def import_image_from_data(self, data, repository=None, tag=None, changes=None):
        self.next_id += 1
        labels = {}
        for part in changes[0][len('LABEL '):].split(' '):
            key, dummy, value = part.partition('=')
            labels[key] = value.strip('"')
        self.images_['sha256:%d' % self.next_id] = labels
        self.tags_['sha256:%d' % self.next_id] = ['%s:%s' % (repository, tag)]

    def remove_image(self, image_id, **kwargs):
        self.images_.pop(image_id, None)


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr(docker_provider, 'NotFound', NotFound)
    monkeypatch.setattr(docker_provider, 'APIError', Conflict)

    class Client:
        api = FakeAPI()
    return Client()


@pytest.fixture
def provider(client):
    return docker_provider.DockerProvider(client, 'immutable')


def test_a_fleet_belongs_to_one_repository(client):
    """issue 10, item 7: records are found by fleet AND repository; a fleet name is unique on an engine, so
    another repository's provider is told whose fleet it is instead of showing or sharing its records."""
    mine = docker_provider.DockerProvider(client, 'immutable')
    other = docker_provider.DockerProvider(client, 'other')
    mine.write_history('web', [{'number': 1, 'outcome': 'succeeded'}])
    mine.acquire_lock('web', {'host': 'ctl', 'pid': '42', 'token': 't1'})
    for call in (lambda: other.read_history('web'), lambda: other.lock_holder('web'),
                 lambda: other.acquire_lock('web', {'token': 't2'})):
        with pytest.raises(docker_provider.ProviderError, match='belongs to the image repository immutable'):
            call()
    assert other.fleets() == [] and mine.fleets() == ['web']
    # Each repository has its own lock marker image.
    other.acquire_lock('api', {'token': 't3'})
    markers = [tags for tags in client.api.tags_.values() if tags[0].endswith('fleet-lock:marker')]
    assert sorted(markers) == [['immutable/fleet-lock:marker'], ['other/fleet-lock:marker']]
    assert mine.read_history('web') == [{'number': 1, 'outcome': 'succeeded'}]


def test_the_lock_is_taken_once_and_names_its_holder(provider):
    holder = {'host': 'ctl', 'pid': '42', 'operation': 'rollout of web to 1.1.0', 'token': 't1'}
    provider.acquire_lock('web', holder)
    with pytest.raises(LockHeld) as exc:
        provider.acquire_lock('web', dict(holder, pid='43', token='t2'))
    assert exc.value.holder['pid'] == '42'
    assert 'rollout of web to 1.1.0 (pid 42 on ctl' in str(exc.value)
    assert provider.release_lock('web', token='t2') is False
    assert provider.lock_holder('web')['token'] == 't1'
    assert provider.release_lock('web', token='t1') is True
    assert provider.lock_holder('web') is None


def test_history_survives_rewrites_and_keeps_one_record_image(provider):
    assert provider.read_history('web') == []
    provider.write_history('web', [{'number': 1, 'outcome': 'in_progress', 'reason': 'a "quoted" = reason'}])
    provider.write_history('web', [{'number': 1, 'outcome': 'succeeded', 'reason': 'a "quoted" = reason'}])
    assert provider.read_history('web') == [{'number': 1, 'outcome': 'succeeded', 'reason': 'a "quoted" = reason'}]
    records = provider.api.images(filters={'label': docker_provider.LABEL_HISTORY_OF + '=web'})
    assert len(records) == 1 and records[0]['Labels'][docker_provider.LABEL_HISTORY_SEQ] == '2'
    assert provider.read_history('other') == []


def test_history_keeps_the_newest_entries(provider):
    provider.write_history('web', [{'number': n} for n in range(1, 80)])
    entries = provider.read_history('web')
    assert len(entries) == docker_provider.HISTORY_LIMIT and entries[-1]['number'] == 79


def test_a_fleet_whose_only_record_is_its_lock_is_listed(provider):
    """A first deploy takes the lock (naming the image it rolls to) before its first instance exists: fleets()
    lists the fleet, so prune reads that lock and keeps the image (it did not before: only instances, load
    balancers and histories counted)."""
    provider.acquire_lock('web', {'host': 'ctl', 'pid': '42', 'token': 't1', 'image_id': 'sha256:v2'})
    assert provider.fleets() == ['web']
    assert provider.release_lock('web', token='t1') is True
    assert provider.fleets() == []


class Forbidden(Exception):
    status_code = 403


class NetworkAPI:
    """remove_network answers 'has active endpoints' ``busy`` times, then removes."""

    def __init__(self, busy, message='error while removing network: network web-net id 1 has active endpoints'):
        self.busy = busy
        self.message = message
        self.calls = 0

    def remove_network(self, net_id):
        self.calls += 1
        if self.calls <= self.busy:
            raise Forbidden(self.message)


@pytest.fixture
def network_provider(monkeypatch):
    monkeypatch.setattr(docker_provider, 'NotFound', NotFound)
    monkeypatch.setattr(docker_provider, 'APIError', Forbidden)
    monkeypatch.setattr(docker_provider.time, 'sleep', lambda seconds: None)

    def make(api):
        class Client:
            pass
        Client.api = api
        return docker_provider.DockerProvider(Client(), 'immutable')
    return make


def test_a_network_that_still_lists_an_endpoint_a_moment_after_its_containers_went_is_removed(network_provider):
    api = NetworkAPI(busy=3)
    network_provider(api)._remove_network('web-net', 'n1')
    assert api.calls == 4


def test_a_network_that_keeps_its_endpoints_fails_after_the_bound(network_provider, monkeypatch):
    ticks = iter(range(0, 1000, 3))
    monkeypatch.setattr(docker_provider.time, 'monotonic', lambda: next(ticks))
    api = NetworkAPI(busy=1000)
    with pytest.raises(docker_provider.ProviderError, match='cannot remove network web-net: .*active endpoints'):
        network_provider(api)._remove_network('web-net', 'n1', seconds=10)
    assert 2 <= api.calls <= 6


def test_any_other_refusal_to_remove_a_network_fails_at_once(network_provider):
    api = NetworkAPI(busy=1, message='permission denied')
    with pytest.raises(docker_provider.ProviderError, match='permission denied'):
        network_provider(api)._remove_network('web-net', 'n1')
    assert api.calls == 1

# -*- coding: utf-8 -*-
"""The bake decision against an in-memory image store: cache hit, version reuse, leftovers, verdicts."""

import datetime

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import bake
from ansible_collections.immutable.infra.plugins.module_utils.images import version_sort_key


class FakeStore:
    """The part of DockerImageStore that bake.py uses, over a dict of tag -> image id."""

    repository = 'immutable'

    def __init__(self):
        self.images_by_id = {}
        self.tags = {}          # 'web:1.2.0' -> image id
        self.build_containers = []
        self.removed_containers = []

    def add(self, image_id, name, version, bake_key, tags=(), created=1):
        self.images_by_id[image_id] = dict(
            id=image_id, name=name, version=version, bake_key=bake_key,
            created=datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(minutes=created))
        for tag in tags:
            self.tags['%s:%s' % (name, tag)] = image_id

    def _record(self, image_id):
        record = dict(self.images_by_id[image_id])
        record['tags'] = sorted(t.split(':', 1)[1] for t, i in self.tags.items() if i == image_id)
        record['verified'] = 'verified-' + record['version'] in record['tags']
        return record

    def find(self, name, version):
        image_id = self.tags.get('%s:%s' % (name, version))
        return self._record(image_id) if image_id else None

    def find_verified(self, name, version):
        return self.find(name, 'verified-' + version)

    def images(self, name=None):
        records = [self._record(i) for i, r in self.images_by_id.items() if name in (None, r['name'])]
        return sorted(records, key=version_sort_key, reverse=True)

    def newest_verified(self, name):
        return next((r for r in self.images(name) if r['verified']), None)

    def containers(self, filters=None):
        return list(self.build_containers)

    def tag(self, image_id, name, tag):
        self.tags['%s:%s' % (name, tag)] = image_id

    def untag(self, name, tag):
        self.tags.pop('%s:%s' % (name, tag), None)

    def remove_container(self, container_id):
        self.removed_containers.append(container_id)


KEY_A = 'a' * 64
KEY_B = 'b' * 64


def test_new_version_is_baked():
    plan = bake.plan_bake(FakeStore(), 'web', '1.2.0', KEY_A)
    assert plan['action'] == 'bake'
    assert plan['leftovers'] == []


def test_same_version_same_key_verified_is_a_cache_hit():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_A, tags=['1.2.0', 'verified-1.2.0'])
    plan = bake.plan_bake(store, 'web', '1.2.0', KEY_A)
    assert plan['action'] == 'skip'
    assert 'cache hit' in plan['reason']


def test_force_rebakes_a_cache_hit():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_A, tags=['1.2.0', 'verified-1.2.0'])
    assert bake.plan_bake(store, 'web', '1.2.0', KEY_A, force=True)['action'] == 'bake'


def test_version_reuse_with_other_content_is_refused():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_A, tags=['1.2.0', 'verified-1.2.0'])
    with pytest.raises(bake.BakeError, match=r'never reused.*1\.2\.1'):
        bake.plan_bake(store, 'web', '1.2.0', KEY_B)
    with pytest.raises(bake.BakeError):
        bake.plan_bake(store, 'web', '1.2.0', KEY_B, force=True)


def test_fleet_instances_are_never_leftovers():
    store = FakeStore()
    store.build_containers = [{'Id': 'i1', 'State': 'running', 'Labels': {'io.immutable-infra.fleet': 'web'}}]
    assert bake.plan_bake(store, 'web', '1.2.0', KEY_A)['leftovers'] == []


def test_unverified_candidate_and_build_containers_are_leftovers():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_B, tags=['1.2.0'])
    store.build_containers = [{'Id': 'c1', 'State': 'running'}]
    plan = bake.plan_bake(store, 'web', '1.2.0', KEY_A)
    assert plan['action'] == 'bake'
    assert sorted(item['kind'] for item in plan['leftovers']) == ['container', 'tag']
    bake.clean_leftovers(store, 'web', '1.2.0', plan['leftovers'])
    assert store.find('web', '1.2.0') is None
    assert store.removed_containers == ['c1']


@pytest.mark.parametrize('version', ['', '1.2', 'v1.2.0', '01.2.3', '1.2.3-'])
def test_invalid_version_is_refused_with_what_to_pass(version):
    with pytest.raises(bake.BakeError, match='-e version=X.Y.Z'):
        bake.plan_bake(FakeStore(), 'web', version, KEY_A)


def test_refresh_reuses_a_current_parent():
    store = FakeStore()
    store.add('sha256:1', 'base', '1.0.3', KEY_A, tags=['1.0.3', 'verified-1.0.3'])
    plan = bake.plan_refresh(store, 'base', '1.0.0', lambda version: KEY_A)
    assert (plan['action'], plan['version']) == ('skip', '1.0.3')


def test_refresh_bakes_the_next_patch_of_a_stale_parent():
    store = FakeStore()
    store.add('sha256:1', 'base', '1.0.3', KEY_A, tags=['1.0.3', 'verified-1.0.3'], created=1)
    store.add('sha256:2', 'base', '1.0.4', KEY_A, tags=['failed-1.0.4'], created=2)
    plan = bake.plan_refresh(store, 'base', '1.0.0', lambda version: 'k-' + version)
    assert (plan['action'], plan['version'], plan['bake_key']) == ('bake', '1.0.5', 'k-1.0.5')
    assert 'stale' in plan['reason']


def test_refresh_bakes_the_initial_version_when_there_is_none():
    plan = bake.plan_refresh(FakeStore(), 'base', '1.0.0', lambda version: KEY_A)
    assert (plan['action'], plan['version']) == ('bake', '1.0.0')


def test_verdicts():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_A, tags=['1.2.0'])
    assert bake.mark_verified(store, 'web', '1.2.0', KEY_A, check_mode=True)[0] is True
    assert store.find_verified('web', '1.2.0') is None
    assert bake.mark_verified(store, 'web', '1.2.0', KEY_A)[0] is True
    assert store.find_verified('web', '1.2.0')['id'] == 'sha256:1'
    assert bake.mark_verified(store, 'web', '1.2.0', KEY_A)[0] is False

    store.add('sha256:2', 'web', '1.3.0', KEY_B, tags=['1.3.0'])
    with pytest.raises(bake.BakeError, match='another bake replaced it'):
        bake.mark_failed(store, 'web', '1.3.0', KEY_A)
    bake.mark_failed(store, 'web', '1.3.0', KEY_B)
    assert store.find('web', '1.3.0') is None
    assert store.tags['web:failed-1.3.0'] == 'sha256:2'


def test_failed_forced_rebake_gives_the_version_tag_back_to_the_verified_image():
    store = FakeStore()
    store.add('sha256:1', 'web', '1.2.0', KEY_A, tags=['verified-1.2.0'])
    store.add('sha256:2', 'web', '1.2.0', KEY_A, tags=['1.2.0'])
    bake.mark_failed(store, 'web', '1.2.0', KEY_A)
    assert store.find('web', '1.2.0')['id'] == 'sha256:1'


def test_bake_key_follows_content_and_values(tmp_path):
    (tmp_path / 'roles' / 'web').mkdir(parents=True)
    (tmp_path / 'roles' / 'web' / 'main.yml').write_text('a: 1\n')
    (tmp_path / 'roles' / 'web' / '__pycache__').mkdir()
    (tmp_path / 'roles' / 'web' / '__pycache__' / 'x.pyc').write_bytes(b'junk')
    (tmp_path / 'web.pkr.hcl').write_text('source {}\n')
    inputs = ['roles/web', 'web.pkr.hcl']
    key = bake.compute_bake_key(str(tmp_path), inputs, {'version': '1.0.0'})
    assert len(key) == 64
    assert bake.compute_bake_key(str(tmp_path), list(reversed(inputs)), {'version': '1.0.0'}) == key
    (tmp_path / 'roles' / 'web' / '__pycache__' / 'x.pyc').write_bytes(b'other junk')
    assert bake.compute_bake_key(str(tmp_path), inputs, {'version': '1.0.0'}) == key
    assert bake.compute_bake_key(str(tmp_path), inputs, {'version': '1.0.1'}) != key
    (tmp_path / 'roles' / 'web' / 'main.yml').write_text('a: 2\n')
    assert bake.compute_bake_key(str(tmp_path), inputs, {'version': '1.0.0'}) != key
    with pytest.raises(bake.BakeError, match='does not exist'):
        bake.compute_bake_key(str(tmp_path), ['nope'], {})

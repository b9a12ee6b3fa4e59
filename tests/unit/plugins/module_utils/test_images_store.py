# -*- coding: utf-8 -*-
"""DockerImageStore's catalog additions against a fake engine API: history records, usage, deletion."""

import datetime
import json

import pytest

from docker.errors import APIError

from ansible_collections.immutable.infra.plugins.module_utils import images
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError

from fake_engine import add_baked, make_store

T = datetime.datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=datetime.timezone.utc)


def entry(**changes):
    value = {'name': 'web', 'channel': 'prod', 'seq': 3, 'action': 'rollback', 'version': '1.0.0+b.1',
             'image_id': 'sha256:' + 'a' * 64, 'time': T, 'previous_version': '1.1.0',
             'previous_image_id': 'sha256:' + 'b' * 64}
    value.update(changes)
    return value


def test_history_record_naming():
    assert images.history_repository('immutable', 'web') == 'immutable/web.channel-history'
    assert images.history_tag('prod', 3) == 'prod-000003'
    assert images.format_time(T) == '2026-03-01T12:30:05Z'
    assert images.format_time(None) is None


def test_a_history_entry_round_trips_through_its_record_image():
    store, api = make_store()
    record_id = store.add_channel_entry(entry())
    method, (repository, tag, changes) = api.calls[-1]
    assert (method, repository, tag) == ('import_image_from_data', 'immutable/web.channel-history', 'prod-000003')
    assert changes[0].startswith('LABEL ')
    assert 'io.immutable-infra.channel.version="1.0.0+b.1"' in changes[0]
    [read] = store.channel_entries('web', 'prod')
    assert read['record_id'] == record_id
    assert dict(read, record_id=None) == dict(entry(), time=T.replace(microsecond=0), record_id=None)


def test_first_entry_has_no_previous():
    store, _api = make_store()
    store.add_channel_entry(entry(seq=1, action='promote', previous_version=None, previous_image_id=None))
    [read] = store.channel_entries()
    assert read['previous_version'] is None and read['previous_image_id'] is None


def test_entries_are_filtered_by_name_and_channel_and_sorted_by_seq():
    store, _api = make_store()
    for seq in (2, 1, 10):
        store.add_channel_entry(entry(seq=seq))
    store.add_channel_entry(entry(channel='dev', seq=1))
    store.add_channel_entry(entry(name='lb', seq=1))
    assert [e['seq'] for e in store.channel_entries('web', 'prod')] == [1, 2, 10]
    assert [(e['name'], e['channel']) for e in store.channel_entries()] == [
        ('lb', 'prod'), ('web', 'dev'), ('web', 'prod'), ('web', 'prod'), ('web', 'prod')]


def test_import_errors_are_reported():
    store, api = make_store()

    def broken(*args, **kwargs):
        return '{"errorDetail":{"message":"no space left"},"error":"no space left"}\r\n'
    api.import_image_from_data = broken
    with pytest.raises(ImageStoreError, match='cannot write channel history record .*no space left'):
        store.add_channel_entry(entry())


def test_engine_errors_are_image_store_errors():
    store, api = make_store()

    def fail(*args, **kwargs):
        raise APIError('engine down')
    api.images = fail
    api.containers = fail
    with pytest.raises(ImageStoreError, match='cannot list channel history records'):
        store.channel_entries()
    with pytest.raises(ImageStoreError, match='cannot list containers'):
        store.usage()


def test_usage_maps_image_ids_to_containers_and_fleets():
    store, api = make_store()
    web = add_baked(api, 'web', '1.0.0')
    api.add_container('web-2', web, fleet='web', state='running')
    api.add_container('web-1', web, fleet='web', state='exited')
    api.add_container('scratch', 'sha256:other')
    usage = store.usage()
    assert usage[web] == [{'name': 'web-1', 'fleet': 'web', 'state': 'exited'},
                          {'name': 'web-2', 'fleet': 'web', 'state': 'running'}]
    assert usage['sha256:other'][0]['fleet'] is None


def test_delete_image_untags_then_deletes_without_force():
    store, api = make_store()
    web = add_baked(api, 'web', '1.0.0')
    api.tag(web, 'elsewhere/web', 'x')
    store.delete_image(web)
    assert web not in api.images_by_id
    assert not any(force for method, args in api.calls if method == 'remove_image' for force in args[1:])
    store.delete_image(web)  # gone already: nothing to do


def test_an_invalid_version_label_does_not_break_the_listing():
    store, api = make_store()
    api.add_image({'io.immutable-infra.name': 'web', 'io.immutable-infra.version': 'one'},
                  tags=['immutable/web:one'])
    [record] = store.images('web')
    assert record['version'] == 'one' and record['verified'] is False


def test_channel_entry_reads_list_and_inspect_data_alike():
    labels = dict(('io.immutable-infra.channel.' + k, v) for k, v in [
        ('name', 'web'), ('channel', 'prod'), ('seq', '1'), ('image-id', 'sha256:x'), ('time', '2026-03-01T00:00:00Z')])
    from_list = images.channel_entry({'Id': 'r', 'Labels': labels})
    from_inspect = images.channel_entry({'Id': 'r', 'Config': {'Labels': labels}})
    assert from_list == from_inspect
    assert from_list['action'] == 'promote' and from_list['version'] is None


def test_label_change_quotes_values():
    change = images._label_change({'b': 'two words', 'a': 'x"y'})
    assert change == 'LABEL a=%s b="two words"' % json.dumps('x"y')

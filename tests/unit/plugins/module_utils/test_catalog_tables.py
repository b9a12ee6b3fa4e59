# -*- coding: utf-8 -*-
"""Pure catalog helpers: grace periods and the text tables the playbooks print."""

import datetime

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.catalog import (
    CatalogError, channel_table, history_table, image_table, parse_duration, prune_table,
)


@pytest.mark.parametrize('text, seconds', [
    ('1d', 86400), ('12h', 43200), ('30m', 1800), ('45s', 45), ('2w', 1209600), ('1d12h', 129600),
    ('0', 0), (0, 0), (' 1h 30m ', 5400), ('0d', 0),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == datetime.timedelta(seconds=seconds)


@pytest.mark.parametrize('text', ['', '1', '1 day', '1y', '-1d', 'd', '1.5h', None, 1, True, '1dd'])
def test_parse_duration_rejects(text):
    with pytest.raises(CatalogError, match='is not a duration.*1d, 12h, 30m'):
        parse_duration(text)


IMAGES = [
    {'name': 'web', 'version': '1.10.0', 'id': 'sha256:4c1f0e7d9a6b' + '0' * 52, 'verified': True, 'failed': False,
     'channels': ['prod', 'staging'], 'containers': ['web-1', 'web-2'], 'fleets': ['web'],
     'created': '2026-11-26T15:11:00Z'},
    {'name': 'web', 'version': '1.3.0-x', 'id': 'sha256:77aa01b2c3d4' + '0' * 52, 'verified': False, 'failed': True,
     'channels': [], 'containers': [], 'fleets': [], 'created': '2026-11-25T15:11:00Z'},
    {'name': 'lb', 'version': '1.0.0', 'id': 'sha256:9e2a51c08d7f' + '0' * 52, 'verified': False, 'failed': False,
     'channels': [], 'containers': [], 'fleets': [], 'created': None},
]


def test_image_table_lines_up_columns():
    lines = image_table(IMAGES)
    assert lines[0].split() == ['NAME', 'VERSION', 'STATUS', 'CHANNELS', 'USED', 'BY', 'FLEETS', 'CREATED', 'ID']
    assert lines[1].split() == ['web', '1.10.0', 'verified', 'prod,staging', 'web-1,web-2', 'web',
                                '2026-11-26T15:11:00Z', '4c1f0e7d9a6b']
    assert lines[2].split()[:3] == ['web', '1.3.0-x', 'failed']
    assert lines[3].split() == ['lb', '1.0.0', 'unverified', '-', '-', '-', '-', '9e2a51c08d7f']
    # Columns start at the same place on every line.
    start = lines[0].index('STATUS')
    assert all(line[start:].split()[0] in ('STATUS', 'verified', 'failed', 'unverified') for line in lines)


def test_empty_tables_say_so():
    assert image_table([])[1] == '(no images)'
    assert channel_table([])[1] == '(no channels)'
    assert history_table([])[1] == '(no history)'
    assert prune_table({'removed': [], 'kept': []})[1] == '(no images)'


def test_channel_and_history_tables():
    history = [{'seq': 2, 'action': 'rollback', 'version': '1.0.0', 'image_id': 'sha256:' + 'a' * 64,
                'time': '2026-03-01T12:00:00Z', 'previous_version': '1.1.0'},
               {'seq': 1, 'action': 'promote', 'version': '1.0.0', 'image_id': 'sha256:' + 'a' * 64,
                'time': '2026-03-01T11:00:00Z', 'previous_version': None}]
    lines = channel_table([{'name': 'web', 'channel': 'prod', 'version': '1.0.0', 'image_id': 'sha256:' + 'a' * 64,
                            'history': history}])
    assert lines[1].split() == ['web', 'prod', '1.0.0', 'a' * 12, '2', 'rollback', '2026-03-01T12:00:00Z', '1.1.0']
    lines = history_table(history)
    assert lines[0].split() == ['SEQ', 'TIME', 'ACTION', 'VERSION', 'PREVIOUS', 'ID']
    assert lines[2].split() == ['1', '2026-03-01T11:00:00Z', 'promote', '1.0.0', '-', 'a' * 12]


def test_prune_table_lists_removals_then_keeps_with_reasons():
    result = {'removed': [{'name': 'web', 'version': '1.0.0', 'id': 'sha256:' + 'a' * 64, 'reason': 'old'}],
              'kept': [{'name': 'web', 'version': '1.1.0', 'id': 'sha256:' + 'b' * 64,
                        'reasons': ['used by container x', 'newest 3 verified']}]}
    lines = prune_table(result)
    assert lines[1].split() == ['remove', 'web', '1.0.0', 'a' * 12, 'old']
    assert lines[2].endswith('used by container x; newest 3 verified')


@pytest.mark.parametrize('table, value', [
    (image_table, 'web'), (image_table, {'name': 'web'}), (image_table, ['web']), (channel_table, None),
    (history_table, [1]), (prune_table, []), (prune_table, {'removed': []}),
])
def test_tables_reject_other_input(table, value):
    with pytest.raises(CatalogError, match='expected'):
        table(value)

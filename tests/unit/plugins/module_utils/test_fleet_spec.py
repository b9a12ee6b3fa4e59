# -*- coding: utf-8 -*-
"""Fleet specs and rollout arithmetic: overrides, validation, batch math, canary weights and analysis."""

import itertools
import os
import re

import pytest
import yaml

from ansible_collections.immutable.infra.plugins.module_utils import fleet
from ansible_collections.immutable.infra.plugins.module_utils.channels import ChannelError, channel_problem, check_name
from ansible_collections.immutable.infra.plugins.module_utils.fleet import FleetError

ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..')
FLEET_VARS = os.path.join(ROOT, 'playbooks', 'vars', 'fleets.yml')
ARCHITECTURE = os.path.join(ROOT, 'docs', 'architecture.md')

BASE = {'image': 'web', 'version': '1.0.0', 'lb_version': '1.0.0'}


def spec(overrides=None, **fields):
    return fleet.resolve_spec('web', dict(BASE, **fields), overrides)


# The spec ---------------------------------------------------------------------------------------------------
def test_defaults_fill_every_field():
    s = spec()
    assert s['instances'] == 3
    assert s['strategy'] == 'rolling'
    assert s['rolling'] == {'max_surge': 1, 'max_unavailable': 0}
    assert s['health']['path'] == '/healthz' and s['health']['healthy_threshold'] == 2
    assert (s['listen_host'], s['listen_port']) == ('127.0.0.1', 8080)
    assert s['blue_green']['keep_revisions'] == 1


def test_extra_vars_arrive_as_strings_and_are_coerced():
    s = spec({'instances': '5', 'max_surge': '2', 'max_unavailable': '25%', 'canary_weight': '10',
              'max_5xx_ratio': '0.1', 'health_start_period': '7', 'require_verified': 'false', 'monitor': '0'})
    assert s['instances'] == 5
    assert s['rolling'] == {'max_surge': 2, 'max_unavailable': '25%'}
    assert s['canary']['canary_weight'] == 10
    assert s['canary']['max_5xx_ratio'] == 0.1
    assert s['health']['start_period'] == 7
    assert s['require_verified'] is False
    assert s['monitor'] == 0


def test_nested_override_merges_into_the_group():
    s = spec({'health': {'path': '/ready'}}, health={'path': '/healthz', 'status': 204})
    assert s['health']['path'] == '/ready'
    assert s['health']['status'] == 204


def test_version_override_replaces_a_declared_channel_and_back():
    assert spec({'version': '1.1.0'}, version=None, channel='prod')['version'] == '1.1.0'
    s = spec({'channel': 'prod'})
    assert (s['version'], s['channel']) == (None, 'prod')


@pytest.mark.parametrize('fields, overrides, words', [
    ({}, {'max_surge': 0, 'max_unavailable': 0}, 'max_surge'),
    ({}, {'max_surge': '0%', 'max_unavailable': '10%'}, 'both come to 0'),
    ({}, {'strategy': 'yolo'}, 'strategy'),
    ({}, {'instances': 0}, 'instances'),
    ({}, {'instances': 'three'}, 'instances'),
    ({}, {'listen': '8080'}, 'listen'),
    ({}, {'version': 'v1'}, 'version'),
    ({}, {'canary_instances': 4, 'strategy': 'canary'}, 'canary_instances'),
    ({}, {'canary_weight': 100}, 'canary_weight'),
    ({}, {'max_surge': '150%'}, 'percentage'),
    ({}, {'colour': 'blue'}, 'unknown override'),
    ({'colour': 'blue'}, {}, 'unknown field'),
    ({'rolling': {'surge': 1}}, {}, 'unknown field'),
    ({'version': '1.0.0', 'channel': 'prod'}, {}, 'give one of them'),
    ({'version': None}, {}, 'needs version or channel'),
    ({}, {'health_path': 'healthz'}, 'health.path'),
])
def test_bad_input_fails_naming_the_field(fields, overrides, words):
    with pytest.raises(FleetError) as exc:
        spec(overrides, **fields)
    assert words in str(exc.value)


def test_undeclared_fleet_and_bad_names_fail_clearly():
    with pytest.raises(FleetError, match='not declared'):
        fleet.resolve_spec('web', None)
    with pytest.raises(FleetError, match='not valid'):
        fleet.resolve_spec('Web_1', BASE)


def test_override_names_cover_every_flat_name():
    names = fleet.override_names()
    for name in ('version', 'channel', 'rollout_strategy', 'max_surge', 'canary_weight', 'health_path',
                 'keep_revisions', 'listen', 'listen_public'):
        assert name in names
    assert 'strategy' not in names   # deprecated: still works, no longer advertised


def test_playbooks_pass_every_override_name_on():
    """playbooks/vars/fleets.yml lists the extra vars the fleet playbooks pass on as overrides: every override name,
    and the deprecated ones that still work."""
    with open(FLEET_VARS) as handle:
        listed = yaml.safe_load(handle)['fleet_override_names']
    assert sorted(listed) == sorted(fleet.override_names() + list(fleet.DEPRECATED_OVERRIDES))
    assert len(listed) == len(set(listed))


def documented_overrides():
    """The names in the override column (the third) of the fleet spec table in docs/architecture.md: every
    backticked word of that column, on the rows after the header ``| field | default | override | meaning |``."""
    with open(ARCHITECTURE) as handle:
        lines = handle.read().splitlines()
    start = lines.index('| field | default | override | meaning |') + 2
    names = []
    for line in itertools.takewhile(lambda text: text.startswith('|'), lines[start:]):
        names += re.findall(r'`([a-z0-9_]+)`', line.split(' | ')[2])
    return names


def test_the_documented_overrides_are_the_code_s():
    """docs/architecture.md, "Fleet spec": the override column names every override (and the deprecated ones)."""
    names = documented_overrides()
    assert sorted(set(names)) == sorted(fleet.override_names() + list(fleet.DEPRECATED_OVERRIDES))


# Listen address ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('listen', [
    'foo bar:27006', '[]:27006', 'example.com:80', ':80', '127.0.0.1:0', '[::1]:70000', '127.0.0.1', '8080',
    '::1:27006', '[::1]', '[fe80::1%eth0]:80', '[127.0.0.1]:80', '127.0.0.1:80:80', '127.0.0.256:80', '1.2.3:80',
    '127.0.0.1: 80', '127.0.0.1:+80', '127.0.0.1:٨٠', 'localhost.:80', '', 8080, None,
])
def test_bad_listen_is_refused_naming_the_fleet_and_field(listen):
    with pytest.raises(FleetError) as exc:
        spec({'listen': listen} if listen is not None else {}, listen=listen if listen is not None else [])
    assert str(exc.value).startswith('fleet web: listen '), str(exc.value)


@pytest.mark.parametrize('listen', ['0.0.0.0:27006', '[::]:27006', '192.0.2.10:80', '[2001:db8::1]:443',
                                    '10.0.0.1:8080'])
def test_public_listen_needs_listen_public(listen):
    with pytest.raises(FleetError) as exc:
        spec({'listen': listen})
    message = str(exc.value)
    assert message.startswith('fleet web: listen ') and 'listen_public: true' in message, message
    s = spec({'listen': listen, 'listen_public': 'true'})
    assert s['listen_public'] is True
    assert fleet.listen_note(s) == ('load balancer published on PUBLIC address %s (listen_public: true)'
                                    % fleet.format_listen(s['listen_host'], s['listen_port']))


def test_all_interfaces_are_named_as_such():
    with pytest.raises(FleetError, match='on every interface of this host'):
        spec({'listen': '0.0.0.0:27006'})


def test_public_listen_in_the_spec_itself():
    s = spec(listen='0.0.0.0:27006', listen_public=True)
    assert (s['listen_host'], s['listen_port'], s['listen']) == ('0.0.0.0', 27006, '0.0.0.0:27006')
    assert fleet.listen_note(s) == 'load balancer published on PUBLIC address 0.0.0.0:27006 (listen_public: true)'
    # An override turns it off again for one run.
    with pytest.raises(FleetError, match='listen_public'):
        spec({'listen_public': 'false'}, listen='0.0.0.0:27006', listen_public=True)


@pytest.mark.parametrize('listen, host, port', [
    ('localhost:27006', '127.0.0.1', 27006),       # the engine needs an IP: a name is published everywhere
    ('127.0.0.1:27006', '127.0.0.1', 27006),
    (' 127.0.0.2:1 ', '127.0.0.2', 1),
    ('[::1]:27006', '::1', 27006),
    ('[0:0:0:0:0:0:0:1]:65535', '::1', 65535),
])
def test_loopback_listen_is_accepted_as_an_ip(listen, host, port):
    s = spec({'listen': listen})
    assert (s['listen_host'], s['listen_port']) == (host, port)
    assert s['listen_public'] is False and fleet.listen_note(s) is None
    assert s['listen'] == '%s:%d' % (host, port)


def test_format_listen_brackets_ipv6():
    assert fleet.format_listen('::1', 80) == '[::1]:80'
    assert fleet.format_listen('127.0.0.1', 80) == '127.0.0.1:80'


# Channels, health path, image names -------------------------------------------------------------------------
@pytest.mark.parametrize('field', ['channel', 'lb_channel'])
@pytest.mark.parametrize('channel', ['Prod', 'latest', 'verified-1.0.0', 'failed-1.0.0', '1.0.0', 'prod_eu', 'a.b',
                                     '-prod', 'prod eu'])
def test_channels_follow_the_catalog_rule(field, channel):
    version = 'version' if field == 'channel' else 'lb_version'
    with pytest.raises(FleetError) as exc:
        spec({field: channel})
    assert str(exc.value).startswith('fleet web: %s is ' % field), str(exc.value)
    assert channel_problem(channel) is not None            # the catalog refuses it too
    assert spec({field: 'staging-eu'})[field] == 'staging-eu' and spec({field: 'prod'})[version] is None


@pytest.mark.parametrize('path', ['/health z', 'healthz', '', '/healthz\n', '/health\tz', '/h\x00', '/h\x7f',
                                  '/healthz#frag', '/h\u00e9', ' /healthz', '/a?b c', 42])
def test_bad_health_path_is_refused(path):
    with pytest.raises(FleetError) as exc:
        spec({'health_path': path})
    assert str(exc.value).startswith('fleet web: health.path is '), str(exc.value)


@pytest.mark.parametrize('path', ['/', '/healthz', '/ready?full=1&x=%20', '/a/b-c_d.e~f', '/h?'])
def test_good_health_path_is_accepted(path):
    assert spec({'health_path': path})['health']['path'] == path


@pytest.mark.parametrize('field', ['image', 'lb_image'])
@pytest.mark.parametrize('name', ['web/../lb', 'Web', '../web', 'web lb', 'web.x', 'web--x', '-web', '', 'web/'])
def test_image_names_follow_the_catalog_rule(field, name):
    with pytest.raises(FleetError) as exc:
        spec({field: name})
    assert str(exc.value).startswith('fleet web: %s is ' % field), str(exc.value)
    with pytest.raises(ChannelError):
        check_name(name)


def test_good_image_names_are_accepted():
    s = spec({'image': 'web_app-2', 'lb_image': 'lb'})
    assert (s['image'], s['lb_image']) == ('web_app-2', 'lb')


# Instances and the strategy override ------------------------------------------------------------------------
def test_instances_maximum_is_one_hundred():
    assert spec({'instances': 100})['instances'] == fleet.MAX_INSTANCES == 100
    with pytest.raises(FleetError, match='instances.*from 1 to 100'):
        spec({'instances': 101})


def test_rollout_strategy_is_the_strategy_override():
    s = spec({'rollout_strategy': 'blue_green'})
    assert s['strategy'] == 'blue_green'
    assert fleet.override_deprecations({'rollout_strategy': 'blue_green'}) == []
    assert fleet.overridden_strategy({'rollout_strategy': 'canary'}) == 'canary'
    assert fleet.overridden_strategy({'max_surge': 2}) is None


def test_strategy_override_still_works_with_a_deprecation():
    s = spec({'strategy': 'canary'})
    assert s['strategy'] == 'canary'
    messages = fleet.override_deprecations({'strategy': 'canary'})
    assert len(messages) == 1 and 'rollout_strategy' in messages[0] and '-e rollout_strategy=canary' in messages[0]
    assert fleet.overridden_strategy({'strategy': 'canary'}) == 'canary'
    assert spec({'strategy': 'canary', 'rollout_strategy': 'canary'})['strategy'] == 'canary'
    with pytest.raises(FleetError, match='disagree'):
        spec({'strategy': 'canary', 'rollout_strategy': 'rolling'})
    with pytest.raises(FleetError, match="strategy is 'yolo'"):
        spec({'rollout_strategy': 'yolo'})


# Counts and percentages --------------------------------------------------------------------------------------
@pytest.mark.parametrize('value, total, up, expected', [
    (2, 10, True, 2), ('25%', 3, True, 1), ('25%', 3, False, 0), ('50%', 10, False, 5), ('100%', 7, True, 7),
    ('10%', 10, True, 1), ('33%', 3, True, 1), ('0%', 5, True, 0),
])
def test_resolve_count(value, total, up, expected):
    assert fleet.resolve_count(value, total, up) == expected


def test_rolling_limits_round_surge_up_and_unavailable_down():
    assert fleet.rolling_limits(spec({'max_surge': '25%', 'max_unavailable': '25%'})) == (1, 0)
    assert fleet.rolling_limits(spec({'instances': 10, 'max_surge': '25%', 'max_unavailable': '25%'})) == (3, 2)


# Rolling steps ---------------------------------------------------------------------------------------------
def test_rolling_one_at_a_time_with_surge():
    assert fleet.plan_rolling(3, 0, 3, 1, 0) == [(0, 1, 1)] * 3


def test_rolling_with_unavailable_only_retires_first():
    assert fleet.plan_rolling(3, 0, 3, 0, 1) == [(1, 1, 0)] * 3


def test_rolling_surge_two_of_ten():
    steps = fleet.plan_rolling(10, 0, 10, 2, 0)
    assert steps == [(0, 2, 2)] * 5


def test_first_deploy_creates_everything_at_once():
    assert fleet.plan_rolling(0, 0, 3, 1, 0) == [(0, 3, 0)]


@pytest.mark.parametrize('desired, surge, unavailable', [
    (d, s, u) for d, s, u in itertools.product(range(1, 6), range(0, 4), range(0, 4)) if s or u])
def test_rolling_keeps_its_bounds_and_always_finishes(desired, surge, unavailable):
    for old, new in itertools.product(range(0, 7), range(0, desired + 1)):
        floor = min(desired - min(unavailable, desired), old + new)
        ceiling = max(desired + surge, old + new)
        steps = fleet.plan_rolling(old, new, desired, surge, unavailable)
        for retire_first, create, retire_after in steps:
            old -= retire_first
            assert old + new >= floor
            new += create
            assert old + new <= ceiling
            old -= retire_after
            assert old + new >= floor and old >= 0
        assert (old, new) == (0, desired)


def test_rolling_step_refuses_no_room():
    with pytest.raises(FleetError):
        fleet.rolling_step(3, 0, 3, 0, 0)


# Canary ----------------------------------------------------------------------------------------------------
def test_canary_weight_gives_the_asked_share():
    weight, share = fleet.canary_weights(3, 1, 20)
    assert weight == 75 and share == 20.0
    weight, share = fleet.canary_weights(9, 1, 10)
    assert weight == 100 and share == 10.0


def test_canary_weight_is_capped_and_says_the_real_share():
    weight, share = fleet.canary_weights(9, 1, 50)
    assert weight == 256
    assert share < 50


SETTINGS = {'max_5xx_ratio': 0.05, 'max_response_time_ratio': 2.0, 'response_time_floor': 20, 'min_requests': 0}


def counters(responses, errors, rtime=1):
    return {'responses': responses, 'errors': errors, 'rtime': rtime}


def test_healthy_canary_passes():
    before = {'c': counters(0, 0), 'b1': counters(100, 0), 'b2': counters(100, 0)}
    after = {'c': counters(50, 0, 3), 'b1': counters(200, 1, 2), 'b2': counters(200, 0, 2)}
    verdict = fleet.analyse_canary(before, after, ['c'], ['b1', 'b2'], SETTINGS)
    assert verdict['passed'], verdict
    assert verdict['canary']['requests'] == 50
    assert verdict['baseline'] == {'requests': 200, 'errors': 1, 'error_ratio': 0.005, 'response_time': 2.0}


def test_canary_answering_5xx_fails():
    before = {'c': counters(0, 0), 'b': counters(0, 0)}
    after = {'c': counters(40, 40), 'b': counters(160, 0)}
    verdict = fleet.analyse_canary(before, after, ['c'], ['b'], SETTINGS)
    assert not verdict['passed']
    assert '5xx ratio 1.000' in verdict['reasons'][0]


def test_canary_slightly_worse_than_a_noisy_baseline_passes():
    before = {'c': counters(0, 0), 'b': counters(0, 0)}
    after = {'c': counters(100, 10), 'b': counters(400, 24)}   # 0.10 vs 0.06 + 0.05
    assert fleet.analyse_canary(before, after, ['c'], ['b'], SETTINGS)['passed']


def test_slow_canary_fails_but_floor_absorbs_noise():
    before = {'c': counters(0, 0), 'b': counters(0, 0)}
    slow = {'c': counters(10, 0, 100), 'b': counters(40, 0, 30)}
    assert not fleet.analyse_canary(before, slow, ['c'], ['b'], SETTINGS)['passed']
    noise = {'c': counters(10, 0, 6), 'b': counters(40, 0, 1)}
    assert fleet.analyse_canary(before, noise, ['c'], ['b'], SETTINGS)['passed']


def test_canary_without_traffic_is_inconclusive_when_a_minimum_is_asked():
    before = {'c': counters(0, 0), 'b': counters(0, 0)}
    after = {'c': counters(0, 0), 'b': counters(0, 0)}
    assert fleet.analyse_canary(before, after, ['c'], ['b'], SETTINGS)['passed']
    verdict = fleet.analyse_canary(before, after, ['c'], ['b'], dict(SETTINGS, min_requests=5))
    assert not verdict['passed'] and 'inconclusive' in verdict['reasons'][0]

# -*- coding: utf-8 -*-
"""Fault: any listen address was taken (issue 10, item 4).

``listen: "foo bar:27006"`` was accepted and the Docker engine published the load balancer on every interface
(0.0.0.0 and ::), since it binds every interface when the host IP it is given is not an IP address;
``0.0.0.0:PORT`` and ``[]:PORT`` passed without a word. Now the host must be an IP address (IPv6 in brackets) or
``localhost`` (taken as 127.0.0.1), and an address other than a loopback one needs ``listen_public: true``; a
refused spec is refused by the real ``rollout.yml`` before anything is created: no container, network, lock or
history record of the fleet, nothing listening on the port.

The fleets (``fspec*``, on loopback ports 27000-27099) are declared in tests/integration/faults/spec_fleets. The
refusals need no image (the spec is validated before anything else); the tests after them bake lb and web 1.0.0
into the session's test repository (conftest.REPOSITORY; set IMMUTABLE_ITEST_REPOSITORY=itest-spec to run beside
other runs on one engine) for a check-mode plan of a public fleet and a real rollout on ``localhost``.
"""

import http.client
import json
import os
import re
import socket

import pytest

from conftest import REPOSITORY, ROOT, bake_images, run_playbook

INVENTORY = os.path.join(ROOT, 'tests', 'integration', 'faults', 'spec_fleets', 'hosts.yml')
FLEETS = ('fspec', 'fspec-foo', 'fspec-all', 'fspec-public', 'fspec-local')
PORTS = (27001, 27005, 27006, 27007, 27008, 27009, 27010, 27011, 27012)
BAKES = [
    {'image': 'lb', 'version': '1.0.0'},
    {'image': 'web', 'version': '1.0.0'},
]
PUBLIC_NOTE = 'load balancer published on PUBLIC address 0.0.0.0:27008 (listen_public: true)'


def rollout(fleet, check=False, playbook='rollout.yml', **extra):
    return run_playbook(playbook, dict({'fleet': fleet, 'image_repository': REPOSITORY}, **extra), check=check,
                        inventory=INVENTORY)


def module_result(run, task='Roll out fleet'):
    results = run.task_results(task)
    assert results, run.output[-3000:]
    return results[0]


def traces(engine, fleet):
    """Everything of ``fleet`` on the engine, by label or by name: containers (instances, load balancer, lock),
    networks, record images (history, lock marker)."""
    own_name = re.compile(r'%s-(lb|lock|net|r[0-9]+-[0-9a-f]{6})' % re.escape(fleet))
    found = []
    for container in engine.containers.list(all=True):
        labels = container.labels or {}
        if labels.get('io.immutable-infra.fleet') == fleet or own_name.fullmatch(container.name):
            found.append('container %s' % container.name)
    for network in engine.networks.list():
        labels = network.attrs.get('Labels') or {}
        if labels.get('io.immutable-infra.fleet') == fleet or own_name.fullmatch(network.name):
            found.append('network %s' % network.name)
    for image in engine.images.list(all=True):
        labels = image.labels or {}
        if fleet in (labels.get('io.immutable-infra.history-of'), labels.get('io.immutable-infra.fleet')) or any(
                tag.endswith(':' + fleet) for tag in image.tags):
            found.append('image %s %s' % (image.short_id, image.tags))
    return found


def listeners(port):
    """Local addresses in LISTEN state on TCP ``port`` (/proc/net/tcp and tcp6, what ``ss -ltn`` reads)."""
    found = []
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            with open(table) as handle:
                rows = handle.read().splitlines()[1:]
        except IOError:
            continue
        for row in rows:
            fields = row.split()
            address, hex_port = fields[1].rsplit(':', 1)
            if fields[3] == '0A' and int(hex_port, 16) == port:
                found.append('%s %s' % (table.rsplit('/', 1)[1], address))
    return found


def answers(host, port):
    """True when something accepts a TCP connection on ``host:port``."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(2)
    try:
        sock.connect((host, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def assert_nothing(engine, fleet, port):
    assert traces(engine, fleet) == []
    if port:
        assert listeners(port) == [], 'something listens on port %d' % port
        assert not answers('127.0.0.1', port)


def remove_fleets(engine):
    for fleet in FLEETS:
        for container in engine.containers.list(all=True, filters={'label': 'io.immutable-infra.fleet=%s' % fleet}):
            container.remove(force=True, v=True)
        for network in engine.networks.list(names=['%s-net' % fleet]):
            network.remove()
        for image in engine.images.list(filters={'label': 'io.immutable-infra.history-of=%s' % fleet}):
            engine.images.remove(image.id, force=True)


@pytest.fixture(scope='module', autouse=True)
def clean(engine):
    remove_fleets(engine)
    busy = [(port, listeners(port)) for port in PORTS if listeners(port)]
    assert not busy, 'ports of this test are taken: %s' % busy
    yield
    remove_fleets(engine)


@pytest.fixture(scope='module')
def images():
    """lb and web 1.0.0 in the session's repository (cache hits when another test file baked them)."""
    bake_images(BAKES)


# Refused: no image needed, nothing created -------------------------------------------------------------------
@pytest.mark.parametrize('fleet, overrides, port, words', [
    ('fspec-foo', {}, 27006, "listen is 'foo bar:27006', expected HOST:PORT with an IP address or localhost"),
    ('fspec-all', {}, 27007, 'on every interface of this host; set listen_public: true'),
    ('fspec', {'listen': '[]:27006'}, 27006, "listen is '[]:27006'"),
    ('fspec', {'listen': 'example.com:27009'}, 27009, "listen is 'example.com:27009'"),
    ('fspec', {'listen': ':27010'}, 27010, "listen is ':27010'"),
    ('fspec', {'listen': '127.0.0.1:0'}, None, 'a port from 1 to 65535'),
    ('fspec', {'listen': '[::1]:70000'}, None, 'a port from 1 to 65535'),
    ('fspec', {'listen': '[::]:27011'}, 27011, 'on every interface of this host; set listen_public: true'),
    ('fspec', {'listen': '192.0.2.10:27012'}, 27012, 'on an address other machines may reach'),
    ('fspec', {'listen': '0.0.0.0:27001', 'listen_public': False}, 27001, 'set listen_public: true'),
    ('fspec-public', {'listen_public': 'false'}, 27008, 'set listen_public: true'),
])
def test_bad_and_public_listen_are_refused_and_nothing_is_created(engine, fleet, overrides, port, words):
    run = rollout(fleet, **overrides)
    assert run.rc != 0, run.output[-3000:]
    result = module_result(run)
    assert result.get('failed') and result['msg'].startswith('fleet %s: listen ' % fleet), result['msg']
    assert words in result['msg'], result['msg']
    assert_nothing(engine, fleet, port)


def test_a_refused_listen_fails_the_check_mode_plan_too(engine):
    run = rollout('fspec-foo', check=True)
    assert run.rc != 0 and 'fleet fspec-foo: listen' in module_result(run)['msg']
    assert_nothing(engine, 'fspec-foo', 27006)


# With images: the plan of a public fleet, a fleet on localhost -----------------------------------------------
def test_public_listen_with_listen_public_is_planned_and_the_plan_says_so(engine, images):
    run = rollout('fspec-public', check=True)
    assert run.rc == 0, run.output[-3000:]
    result = module_result(run)
    assert result['plan']['notes'] == [PUBLIC_NOTE]
    assert result['plan']['listen'] == '0.0.0.0:27008' and result['plan']['listen_public'] is True
    summary = module_result(run, 'Show the result')['msg']
    assert PUBLIC_NOTE in summary, summary
    assert_nothing(engine, 'fspec-public', 27008)


def test_localhost_is_published_on_127_0_0_1_only(engine, images):
    run = rollout('fspec-local')
    assert run.rc == 0, run.output[-3000:]
    assert 'notes' not in module_result(run)['plan']
    # The load balancer's holder owns its network namespace and published ports (docs/architecture.md).
    holder = engine.containers.get('fspec-local-lb-holder')
    bindings = holder.attrs['HostConfig']['PortBindings']['8080/tcp']
    assert [b['HostIp'] for b in bindings] == ['127.0.0.1'], bindings
    published = holder.attrs['NetworkSettings']['Ports']['8080/tcp']
    assert [(p['HostIp'], p['HostPort']) for p in published] == [('127.0.0.1', '27005')], published
    for name in ('fspec-local-lb', 'fspec-local-lb-holder'):
        assert engine.containers.get(name).labels['io.immutable-infra.listen'] == '127.0.0.1:27005'
    # docker-proxy (when the engine uses it) listens on 127.0.0.1 only, never on 0.0.0.0 or ::.
    assert all(address == 'tcp 0100007F' for address in listeners(27005)), listeners(27005)
    conn = http.client.HTTPConnection('127.0.0.1', 27005, timeout=5)
    try:
        conn.request('GET', '/version')
        assert json.loads(conn.getresponse().read())['version'] == '1.0.0'
    finally:
        conn.close()
    status = run_playbook('status.yml', {'fleet': 'fspec-local', 'image_repository': REPOSITORY},
                          inventory=INVENTORY)
    assert 'on 127.0.0.1:27005 (running)' in status.messages(), status.output[-3000:]
    # The same rollout again: the spec's listen is the load balancer's (nothing to replace).
    again = rollout('fspec-local')
    assert again.rc == 0 and module_result(again)['outcome'] == 'unchanged', again.output[-3000:]


def test_strategy_override_is_renamed_and_the_old_name_deprecated(engine, images):
    run = rollout('fspec-local', check=True, rollout_strategy='blue_green')
    assert run.rc == 0, run.output[-3000:]
    assert 'reserved name' not in run.output
    assert not module_result(run).get('deprecations')
    old = rollout('fspec-local', check=True, strategy='blue_green')
    assert old.rc == 0, old.output[-3000:]
    deprecations = module_result(old).get('deprecations') or []
    assert any('rollout_strategy' in d['msg'] for d in deprecations), module_result(old)


def test_removal_leaves_nothing(engine, images):
    run = rollout('fspec-local', state='absent')
    assert run.rc == 0, run.output[-3000:]
    assert_nothing(engine, 'fspec-local', 27005)

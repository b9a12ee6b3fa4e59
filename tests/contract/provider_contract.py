# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider contract: what every provider does, written once and run against each of them.

The fleet engine, heal, drift, prune and the inventory plugin rely on these behaviours of the ``Provider`` ports
(``plugins/module_utils/provider/__init__.py``) and of the load balancer's runtime API (``haproxy.RuntimeAPI``).
The Docker provider defines them; the in-memory fake the unit tests use must behave the same, and so must every
new provider.

A test module runs the suite by subclassing ``ProviderContract`` (``class TestMyProvider(ProviderContract)``)
and giving a function-scoped fixture ``contract`` that yields a ``Contract``: the provider under test on a
clean slate (nothing of either fleet exists), what it needs to run, and, after the test, removal of whatever
the test left. ``tests/unit/plugins/module_utils/test_provider_contract.py`` runs it against the fake,
``tests/integration/test_provider_contract.py`` against the Docker provider on the real engine.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re
import time

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    CHANGES, INSTANCE_STATES, Instance, LockHeld, ProviderError, TrafficError,
)

SERVICE_PORT = 8080
CHECK = {'inter': 1, 'rise': 2, 'fall': 3, 'path': '/', 'status': 200}
CREATED_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')


class Contract:
    """What the suite needs from a provider under test.

    ``provider``: the provider; ``image_id``: an image whose instances keep running and listen on
    ``SERVICE_PORT``; ``lb_image_ids``: two different load balancer images (a roll goes from one to the other);
    ``fleet`` and ``other_fleet``: two fleet names of which nothing exists yet; ``listen``: ``(host, port)`` free
    for ``fleet``'s load balancer; ``write_file(instance, path)``: write a file inside a running instance (as a
    human would by hand: the provider itself never does); ``runtime_api(lb)``: the runtime API client of a load
    balancer (``haproxy.RuntimeAPI`` or its stand-in); ``http(host, port, path, timeout)``: the controller's GET,
    ``(status, error)`` (``rollout.http_status`` or its stand-in); ``stop_timeout``: seconds an instance gets to stop.
    """

    def __init__(self, provider, image_id, lb_image_ids, fleet, other_fleet, listen, write_file, runtime_api, http,
                 stop_timeout=5):
        self.provider = provider
        self.image_id = image_id
        self.lb_image_ids = tuple(lb_image_ids)
        self.fleet = fleet
        self.other_fleet = other_fleet
        self.listen = listen
        self.write_file = write_file
        self.runtime_api = runtime_api
        self.http = http
        self.stop_timeout = stop_timeout

    def create(self, revision=1, version='1.0.0', fleet=None):
        return self.provider.create_instance(fleet or self.fleet, self.image_id, version, revision, SERVICE_PORT)

    def names(self, fleet=None):
        return [i.name for i in self.provider.instances(fleet or self.fleet)]

    def create_lb(self, servers=None, which=0, version='1.0.0'):
        host, port = self.listen
        return self.provider.create_load_balancer(self.fleet, self.lb_image_ids[which], version, host, port,
                                                  servers=servers, check=CHECK)

    def answers(self, endpoint, within=15):
        """True once the service answers GET / at ``endpoint`` with 200 (an instance may take a moment)."""
        deadline = time.monotonic() + within
        while True:
            if self.http(endpoint[0], endpoint[1], '/', 2)[0] == 200:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def servers_of(self, lb):
        """``{name: (admin, weight)}`` of the load balancer's backend, once its runtime API answers."""
        api = self.runtime_api(lb)
        api.wait_ready(timeout=20)
        return dict((name, (s['admin'], s['weight'])) for name, s in api.show_servers_state().items())


def until(condition, within=15):
    """True once ``condition()`` is (a real load balancer's health checks take a few seconds)."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def member(instance):
    return {'name': instance.name, 'address': instance.address[0], 'port': instance.address[1]}


def seed(instance, weight=100):
    return {'name': instance.name, 'address': instance.address[0], 'port': instance.address[1], 'weight': weight}


def holder(token, **extra):
    found = {'host': 'contract-host', 'pid': '4242', 'pid_start': '12345', 'started': '2026-01-01T00:00:00Z',
             'operation': 'contract test of %s' % token, 'token': token}
    found.update(extra)
    return found


def entry(number, **extra):
    found = {'number': number, 'image': 'web', 'version': '1.%d.0' % number, 'image_id': 'sha256:%064x' % number,
             'channel': None, 'strategy': 'rolling', 'instances': 3, 'started': '2026-01-01T00:00:00Z',
             'ended': None, 'outcome': 'succeeded', 'reason': 'a "quoted" = reason; with a newline\nand unicode \u00e9',
             'previous': number - 1 or None, 'resumed': False}
    found.update(extra)
    return found


class ProviderContract:
    """The contract suite. Subclass it as ``Test<Provider>`` beside a ``contract`` fixture."""

    # Instances ------------------------------------------------------------------------------------------
    def test_a_new_instance_runs_and_describes_itself(self, contract):
        inst = contract.create(revision=3, version='1.2.0')
        assert inst.running and inst.state == 'running'
        assert (inst.fleet, inst.revision, inst.version, inst.image_id, inst.service_port) == (
            contract.fleet, 3, '1.2.0', contract.image_id, SERVICE_PORT)
        assert re.match(r'^%s-r3-[0-9a-f]{6}$' % re.escape(contract.fleet), inst.name), inst.name
        assert inst.id and CREATED_RE.match(inst.created), inst.created
        host, port = inst.endpoint
        assert isinstance(host, str) and isinstance(port, int) and port > 0
        assert isinstance(inst.address[0], str) and inst.address[1] == SERVICE_PORT
        # The controller reaches the service port at the endpoint.
        assert contract.answers(inst.endpoint)
        listed = contract.provider.instances(contract.fleet)
        assert [i.as_dict() for i in listed] == [inst.as_dict()]

    def test_instances_lists_its_fleet_only_in_every_state_oldest_first(self, contract):
        new = contract.create(revision=2)
        old = contract.create(revision=1)
        newer = contract.create(revision=2)
        other = contract.create(fleet=contract.other_fleet)
        contract.provider.stop_instance(new, contract.stop_timeout)
        listed = contract.provider.instances(contract.fleet)
        # Oldest first: by revision, then creation time (Docker's is to the second), then name.
        assert [i.name for i in listed] == [i.name for i in sorted(listed, key=Instance.age_key)]
        assert listed[0].name == old.name
        states = {old.name: 'running', new.name: 'stopped', newer.name: 'running'}
        assert dict((i.name, i.state) for i in listed) == states
        assert all(i.state in INSTANCE_STATES for i in listed)
        assert contract.names(contract.other_fleet) == [other.name]
        assert all(i.fleet == contract.fleet for i in contract.provider.instances(contract.fleet))

    def test_an_instance_stops_starts_and_is_removed(self, contract):
        inst = contract.create()
        contract.provider.stop_instance(inst, contract.stop_timeout)
        stopped, = contract.provider.instances(contract.fleet)
        assert (stopped.name, stopped.id, stopped.state, stopped.running) == (inst.name, inst.id, 'stopped', False)
        # A stopped instance cannot be reached: no endpoint, no address.
        assert stopped.endpoint is None and stopped.address is None
        started = contract.provider.start_instance(stopped)
        assert (started.name, started.id, started.state, started.revision) == (inst.name, inst.id, 'running', 1)
        assert started.endpoint and started.address[1] == SERVICE_PORT
        assert contract.answers(started.endpoint)
        contract.provider.remove_instance(started)
        assert contract.names() == []

    def test_a_running_instance_is_removed_and_a_missing_one_is_no_error(self, contract):
        inst = contract.create()
        contract.provider.remove_instance(inst)
        assert contract.names() == []
        contract.provider.remove_instance(inst)
        contract.provider.stop_instance(inst, contract.stop_timeout)
        with pytest.raises(ProviderError):
            contract.provider.start_instance(inst)

    def test_diff_is_empty_until_a_file_is_written_inside(self, contract):
        inst = contract.create()
        untouched = contract.create()
        assert contract.provider.diff(inst) == []
        contract.write_file(inst, '/etc/contract-drift')
        changes = contract.provider.diff(inst)
        assert {'path': '/etc/contract-drift', 'change': 'added'} in changes
        assert all(set(c) == {'path', 'change'} and c['change'] in CHANGES for c in changes), changes
        # Read-only: comparing changes nothing, and another instance is not affected.
        assert contract.provider.diff(inst) == changes
        assert contract.provider.diff(untouched) == []

    def test_diff_of_a_removed_instance_fails(self, contract):
        inst = contract.create()
        contract.provider.remove_instance(inst)
        with pytest.raises(ProviderError):
            contract.provider.diff(inst)

    # Load balancer --------------------------------------------------------------------------------------
    def test_a_new_load_balancer_serves_its_seeded_servers(self, contract):
        assert contract.provider.load_balancer(contract.fleet) is None
        inst = contract.create()
        lb = contract.create_lb([seed(inst)])
        assert (lb.name, lb.fleet, lb.image_id, lb.version, lb.listen, lb.state, lb.can_roll, lb.health) == (
            '%s-lb' % contract.fleet, contract.fleet, contract.lb_image_ids[0], '1.0.0',
            '%s:%d' % contract.listen, 'running', True, '200 /')
        assert lb.running and lb.id and lb.api and lb.stats
        assert contract.provider.load_balancer(contract.fleet).as_dict() == lb.as_dict()
        assert contract.provider.load_balancer(contract.other_fleet) is None
        assert contract.servers_of(lb) == {inst.name: ('ready', 100)}

    def test_the_runtime_api_adds_weighs_drains_and_deletes_servers(self, contract):
        inst = contract.create()
        lb = contract.create_lb()
        assert contract.servers_of(lb) == {}
        api = contract.runtime_api(lb)
        api.add_server(inst.name, inst.address[0], inst.address[1], 0)
        # A new server starts in maintenance; a server that is not in maintenance cannot be deleted.
        assert contract.servers_of(lb) == {inst.name: ('maint', 0)}
        api.apply([('state', inst.name, 'ready'), ('weight', inst.name, 100)])
        assert contract.servers_of(lb) == {inst.name: ('ready', 100)}
        with pytest.raises(HAProxyError):
            api.del_server(inst.name)
        with pytest.raises(HAProxyError):
            api.add_server(inst.name, inst.address[0], inst.address[1], 100)
        api.set_state(inst.name, 'drain')
        api.set_weight(inst.name, 50)
        assert contract.servers_of(lb) == {inst.name: ('drain', 50)}
        api.set_state(inst.name, 'maint')
        api.del_server(inst.name)
        assert contract.servers_of(lb) == {}
        with pytest.raises(HAProxyError):
            api.del_server(inst.name)

    # Traffic port: the members of a load balancer ----------------------------------------------------------------
    def test_traffic_members_are_added_weighed_drained_and_removed(self, contract):
        provider = contract.provider
        inst = contract.create()
        lb = contract.create_lb()
        assert provider.reachable(lb) and not provider.reachable(None)
        provider.wait_ready(lb, timeout=20)
        assert provider.members(lb) == {}
        # Added at its weight with the health check, in service (ready); up once the load balancer's checks pass.
        provider.add_members(lb, [member(inst)], 0, CHECK)
        assert until(lambda: provider.members(lb)[inst.name]['up'])
        found = provider.members(lb)[inst.name]
        assert (found['admin'], found['weight'], found['port']) == ('ready', 0, SERVICE_PORT)
        assert {'up', 'admin', 'weight', 'scur', 'responses', 'errors', 'rtime', 'chkdown', 'check_status'} <= set(found)
        assert set(provider.members(lb, counters=False)[inst.name]) >= {'admin', 'up', 'weight'}
        counters = provider.counters(lb)[inst.name]
        assert counters['down_for'] is None and counters['scur'] == 0
        provider.set_weights(lb, {inst.name: 100})
        assert contract.servers_of(lb) == {inst.name: ('ready', 100)}
        # Added again: the member of that name is replaced, not doubled.
        provider.add_members(lb, [member(inst)], 100, CHECK)
        assert contract.servers_of(lb) == {inst.name: ('ready', 100)}
        assert provider.drain(lb, [inst.name, 'not-a-member']) == [inst.name]
        assert contract.servers_of(lb) == {inst.name: ('drain', 100)}
        provider.remove_member(lb, inst.name)
        assert provider.members(lb) == {}
        provider.remove_member(lb, inst.name)
        assert provider.drain(lb, [inst.name]) == []

    def test_traffic_switches_a_set_and_splits_by_revision_group(self, contract):
        provider = contract.provider
        old, new, newer = contract.create(revision=1), contract.create(revision=2), contract.create(revision=2)
        lb = contract.create_lb([seed(old)])
        provider.wait_ready(lb, timeout=20)
        provider.add_members(lb, [member(new), member(newer)], 0, CHECK)
        assert contract.servers_of(lb) == {old.name: ('ready', 100), new.name: ('ready', 0), newer.name: ('ready', 0)}
        # Split: revision 1 gets 20 %, revision 2 (two members) 80 %: weights in proportion, the largest normal.
        weights = provider.split(lb, [([old.name], 20), ([new.name, newer.name], 80)])
        assert weights == {old.name: 50, new.name: 100, newer.name: 100}
        assert contract.servers_of(lb) == {old.name: ('ready', 50), new.name: ('ready', 100), newer.name: ('ready', 100)}
        assert provider.split(lb, [([old.name], 0), ([new.name, newer.name], 100)])[old.name] == 0
        # Switch: one step, the new set to full weight and the old one drained.
        provider.switch(lb, {new.name: 100, newer.name: 100}, [old.name])
        assert contract.servers_of(lb) == {old.name: ('drain', 0), new.name: ('ready', 100),
                                           newer.name: ('ready', 100)}

    def test_traffic_says_how_long_a_member_has_been_down(self, contract):
        provider = contract.provider
        inst = contract.create()
        lb = contract.create_lb([seed(inst)])
        provider.wait_ready(lb, timeout=20)
        assert until(lambda: provider.members(lb)[inst.name]['up'])
        assert provider.counters(lb)[inst.name]['down_for'] is None
        provider.stop_instance(inst, contract.stop_timeout)
        assert until(lambda: not provider.members(lb)[inst.name]['up'], within=20)
        down_for = provider.counters(lb)[inst.name]['down_for']
        assert isinstance(down_for, int) and down_for >= 0

    def test_traffic_refuses_a_load_balancer_it_cannot_reach(self, contract):
        provider = contract.provider
        inst = contract.create()
        with pytest.raises(TrafficError):
            provider.members(None)
        with pytest.raises(TrafficError):
            provider.add_members(None, [member(inst)], 100, CHECK)
        # A refused change is a TrafficError (a ProviderError) with the load balancer's answer.
        lb = contract.create_lb()
        provider.wait_ready(lb, timeout=20)
        with pytest.raises(TrafficError):
            provider.set_weights(lb, {'not-a-member': 100})
        assert issubclass(TrafficError, ProviderError)

    def test_a_load_balancer_is_removed_and_a_missing_one_is_no_error(self, contract):
        contract.create_lb()
        contract.provider.remove_load_balancer(contract.fleet)
        assert contract.provider.load_balancer(contract.fleet) is None
        contract.provider.remove_load_balancer(contract.fleet)
        again = contract.create_lb(which=1, version='1.1.0')
        assert contract.provider.load_balancer(contract.fleet).image_id == again.image_id == contract.lb_image_ids[1]

    def test_a_load_balancer_rolls_to_a_new_image_and_back(self, contract):
        inst = contract.create()
        first = contract.create_lb([seed(inst)])
        nxt = contract.provider.start_next_load_balancer(contract.fleet, contract.lb_image_ids[1], '1.1.0',
                                                         servers=[seed(inst)], check=CHECK)
        assert (nxt.image_id, nxt.version, nxt.listen, nxt.state, nxt.health) == (
            contract.lb_image_ids[1], '1.1.0', first.listen, 'running', '200 /')
        assert nxt.api and nxt.api != first.api and nxt.id != first.id
        assert contract.servers_of(nxt) == {inst.name: ('ready', 100)}
        # Until the roll finishes, the old one is the fleet's load balancer.
        assert contract.provider.load_balancer(contract.fleet).id == first.id
        done = contract.provider.finish_load_balancer_roll(contract.fleet, 5)
        assert (done.name, done.id, done.image_id, done.version, done.listen, done.state, done.api) == (
            first.name, nxt.id, contract.lb_image_ids[1], '1.1.0', first.listen, 'running', nxt.api)
        assert contract.provider.load_balancer(contract.fleet).as_dict() == done.as_dict()
        # One load balancer afterwards: it rolls again, back to the first image, on the first one's ports.
        contract.provider.start_next_load_balancer(contract.fleet, contract.lb_image_ids[0], '1.0.0',
                                                   servers=[seed(inst)], check=CHECK)
        back = contract.provider.finish_load_balancer_roll(contract.fleet, 5)
        assert (back.name, back.image_id, back.version, back.api) == (first.name, first.image_id, '1.0.0', first.api)
        assert contract.servers_of(back) == {inst.name: ('ready', 100)}

    def test_a_roll_needs_a_running_load_balancer_and_a_started_successor(self, contract):
        with pytest.raises(ProviderError):
            contract.provider.start_next_load_balancer(contract.fleet, contract.lb_image_ids[1], '1.1.0')
        contract.create_lb()
        with pytest.raises(ProviderError):
            contract.provider.finish_load_balancer_roll(contract.fleet, 5)
        assert contract.provider.load_balancer(contract.fleet).image_id == contract.lb_image_ids[0]

    # Lock -----------------------------------------------------------------------------------------------
    def test_the_lock_is_taken_once_and_released_only_by_its_token(self, contract):
        provider, fleet = contract.provider, contract.fleet
        assert provider.lock_holder(fleet) is None
        first = holder('t1', image_id='sha256:%064x' % 1)
        provider.acquire_lock(fleet, first)
        assert provider.lock_holder(fleet) == first
        with pytest.raises(LockHeld) as held:
            provider.acquire_lock(fleet, holder('t2'))
        assert (held.value.fleet, held.value.holder) == (fleet, first)
        assert 'contract test of t1 (pid 4242 on contract-host' in str(held.value)
        assert provider.release_lock(fleet, token='t2') is False
        assert provider.lock_holder(fleet) == first
        # Another fleet's lock is its own.
        assert provider.lock_holder(contract.other_fleet) is None
        provider.acquire_lock(contract.other_fleet, holder('t3'))
        assert provider.release_lock(fleet, token='t1') is True
        assert provider.lock_holder(fleet) is None
        assert provider.release_lock(fleet, token='t1') is False
        assert provider.lock_holder(contract.other_fleet)['token'] == 't3'
        provider.acquire_lock(fleet, holder('t4'))
        assert provider.lock_holder(fleet)['token'] == 't4'

    def test_a_lock_is_broken_without_a_token_and_its_labels_are_strings(self, contract):
        provider, fleet = contract.provider, contract.fleet
        assert provider.release_lock(fleet) is False
        provider.acquire_lock(fleet, holder('t1', pid=4242))
        assert provider.lock_holder(fleet)['pid'] == '4242'
        assert provider.release_lock(fleet) is True
        assert provider.lock_holder(fleet) is None

    # History --------------------------------------------------------------------------------------------
    def test_history_is_written_whole_and_read_back_per_fleet(self, contract):
        provider, fleet = contract.provider, contract.fleet
        assert provider.read_history(fleet) == []
        entries = [entry(1), entry(2, outcome='in_progress')]
        provider.write_history(fleet, entries)
        assert provider.read_history(fleet) == entries
        assert provider.read_history(contract.other_fleet) == []
        read = provider.read_history(fleet)
        read[0]['outcome'] = 'changed by the reader'
        assert provider.read_history(fleet) == entries
        provider.write_history(contract.other_fleet, [entry(7)])
        provider.write_history(fleet, [entry(1), entry(2)])
        assert provider.read_history(fleet) == [entry(1), entry(2)]
        assert provider.read_history(contract.other_fleet) == [entry(7)]

    def test_history_keeps_the_newest_50_entries(self, contract):
        contract.provider.write_history(contract.fleet, [entry(n) for n in range(1, 61)])
        assert [e['number'] for e in contract.provider.read_history(contract.fleet)] == list(range(11, 61))

    # Fleets -----------------------------------------------------------------------------------------------
    def test_fleets_lists_every_fleet_with_something_on_the_provider(self, contract):
        provider, fleet, other = contract.provider, contract.fleet, contract.other_fleet
        assert fleet not in provider.fleets() and other not in provider.fleets()
        inst = contract.create()
        provider.write_history(other, [entry(1)])
        assert {fleet, other} <= set(provider.fleets())
        provider.remove_instance(inst)
        assert fleet not in provider.fleets()
        # A first deploy's lock is the fleet's only record until its first instance and load balancer exist:
        # the fleet is listed, so that prune sees the image the lock names.
        provider.acquire_lock(fleet, holder('t1', image_id='sha256:%064x' % 1))
        assert fleet in provider.fleets()
        assert provider.fleets() == sorted(provider.fleets())

    def test_forget_removes_the_records_and_the_load_balancer(self, contract):
        provider, fleet, other = contract.provider, contract.fleet, contract.other_fleet
        contract.create_lb()
        provider.write_history(fleet, [entry(1)])
        provider.write_history(other, [entry(1)])
        provider.acquire_lock(fleet, holder('t1'))
        provider.forget(fleet)
        assert provider.read_history(fleet) == [] and provider.lock_holder(fleet) is None
        assert provider.load_balancer(fleet) is None
        assert fleet not in provider.fleets()
        assert other in provider.fleets() and provider.read_history(other) == [entry(1)]
        provider.forget(fleet)

# -*- coding: utf-8 -*-
"""In-memory stand-ins for the fleet engine's boundaries: provider, HAProxy runtime API, HTTP probe, clock.

FakeLB keeps HAProxy's rules that matter to a rollout (a new server starts in maint, del needs maint,
weights, drain) and records, after every change, how many servers serve traffic, so tests can assert the
capacity a user relies on never dropped.
"""

import copy
import itertools

from ansible_collections.immutable.infra.plugins.module_utils.fleet import resolve_spec
from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError
from ansible_collections.immutable.infra.plugins.module_utils.provider.haproxy_traffic import HAProxyTraffic
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    CAPABILITIES, LABEL_FLEET, LABEL_IMAGE_ID, LABEL_REVISION, LABEL_ROLE, LABEL_SERVICE_PORT, LABEL_VERSION,
    ROLE_INSTANCE, Instance, LoadBalancer, LockHeld, Provider, ProviderError,
)

IMAGES = {
    'sha256:v1': '1.0.0',
    'sha256:v2': '1.1.0',
    'sha256:bad': '9.0.1',
    'sha256:canary5xx': '9.0.2',
    'sha256:lb': '1.0.0',
}


def target(image_id, name='web'):
    return {'image': name, 'version': IMAGES[image_id], 'id': image_id, 'ref': image_id, 'channel': None}


LB_IMAGE = target('sha256:lb', 'lb')


def make_spec(**overrides):
    base = {'image': 'web', 'version': '1.0.0', 'lb_version': '1.0.0', 'instances': 3,
            'health': {'start_period': 5}, 'drain_timeout': 2, 'monitor': 1,
            'canary': {'analysis_window': 4}}
    return resolve_spec('web', base, overrides)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += max(seconds, 0.01)


class FakeProvider(HAProxyTraffic, Provider):
    """The provider ports in memory, fleet by fleet, behaving like the Docker provider: the contract suite
    (tests/contract/provider_contract.py) runs against both. The load balancer's members are the Docker
    provider's code (``HAProxyTraffic``) over ``FakeLB``, HAProxy's runtime API in memory: ``runtime_api(lb)``
    asks ``lb_api_of`` (set by ``World``) which one a load balancer has.

    ``items`` holds the instances of every fleet by name (tests change their ``state`` to play a crash);
    ``lb``, ``lock`` and ``history`` are the records of ``fleet``, the fleet a test drives (read and set them
    directly); ``lbs``, ``locks`` and ``histories`` hold every fleet's. ``write_file`` plays a human who changed a
    file inside an instance (``diff`` then lists it). ``calls`` records what changed an instance or a load balancer.
    """

    HISTORY_LIMIT = 50
    name = 'fake'

    def __init__(self, fleet='web', capabilities=CAPABILITIES):
        # Every capability unless a test takes some away (``capabilities`` is per instance).
        self.capabilities = frozenset(capabilities)
        self.fleet = fleet
        self.items = {}
        self.lbs = {}
        self.next_lbs = {}
        self.locks = {}
        self.histories = {}
        self.changes = {}
        self.counter = itertools.count(1)
        self.lb_counter = itertools.count(1)
        self.fail_create = False
        self.calls = []
        # World: a new load balancer starts with the seeded servers, a roll hands them over.
        self.on_create_lb = None
        self.on_start_next_lb = None
        self.on_finish_lb_roll = None
        self.lb_api_of = None

    def runtime_api(self, lb):
        return self.lb_api_of(lb)

    @staticmethod
    def _put(records, fleet, value):
        if value is None:
            records.pop(fleet, None)
        else:
            records[fleet] = value

    lb = property(lambda self: self.lbs.get(self.fleet),
                  lambda self, value: self._put(self.lbs, self.fleet, value))
    lock = property(lambda self: self.locks.get(self.fleet),
                    lambda self, value: self._put(self.locks, self.fleet, value))
    history = property(lambda self: self.histories.get(self.fleet, []),
                       lambda self, value: self._put(self.histories, self.fleet, value))

    # instances
    def instances(self, fleet):
        return sorted((self._copy(i) for i in self.items.values() if i.fleet == fleet), key=Instance.age_key)

    @staticmethod
    def _copy(inst):
        # Like the engine: a stopped instance has no endpoint nor address (its ports are published while it runs).
        running = inst.state == 'running'
        return Instance(inst.name, inst.id, inst.fleet, inst.revision, inst.version, inst.image_id,
                        inst.service_port, inst.state, inst.endpoint if running else None,
                        inst.address if running else None, inst.created, dict(inst.labels))

    def _item(self, instance, what):
        inst = self.items.get(instance.name)
        if inst is None:
            raise ProviderError('cannot %s instance %s: no such instance' % (what, instance.name))
        return inst

    def create_instance(self, fleet, image_id, version, revision, service_port):
        if self.fail_create:
            raise ProviderError('engine says no')
        n = next(self.counter)
        name = '%s-r%d-%06x' % (fleet, revision, n)
        created = '2026-01-01T%02d:%02d:%02dZ' % (n // 3600 % 24, n // 60 % 60, n % 60)
        labels = {LABEL_FLEET: fleet, LABEL_ROLE: ROLE_INSTANCE, LABEL_REVISION: str(revision),
                  LABEL_VERSION: version, LABEL_IMAGE_ID: image_id, LABEL_SERVICE_PORT: str(service_port)}
        self.items[name] = Instance(name, 'id%d' % n, fleet, revision, version, image_id, service_port, 'running',
                                    ('127.0.0.1', 40000 + n), ('10.0.0.%d' % n, service_port), created, labels)
        self.calls.append(('create', name))
        return self._copy(self.items[name])

    def start_instance(self, instance):
        inst = self._item(instance, 'start')
        inst.state = 'running'
        self.calls.append(('start', inst.name))
        return self._copy(inst)

    def stop_instance(self, instance, timeout):
        if instance.name in self.items:
            self.items[instance.name].state = 'stopped'
            self.calls.append(('stop', instance.name))

    def remove_instance(self, instance):
        if self.items.pop(instance.name, None) is not None:
            self.changes.pop(instance.name, None)
            self.calls.append(('remove', instance.name))

    def write_file(self, instance, path):
        """A file written inside the instance: ``diff`` lists it as added and its folders as changed."""
        changes = self.changes.setdefault(self._item(instance, 'write into').name, [])
        parts = path.strip('/').split('/')
        for depth in range(1, len(parts)):
            folder = {'path': '/' + '/'.join(parts[:depth]), 'change': 'changed'}
            if folder not in changes:
                changes.append(folder)
        changes.append({'path': path, 'change': 'added'})

    def diff(self, instance):
        return [dict(c) for c in self.changes.get(self._item(instance, 'compare').name, [])]

    # load balancer
    def load_balancer(self, fleet):
        return self.lbs.get(fleet)

    def _new_lb(self, name, fleet, image_id, version, listen, slot, check):
        return LoadBalancer(name, 'lbid%d' % next(self.lb_counter), fleet, image_id, version, listen, 'running',
                            ('127.0.0.1', 9999 - slot), ('127.0.0.1', 8404 - slot), can_roll=True,
                            health=self._health(check))

    def create_load_balancer(self, fleet, image_id, version, listen_host, listen_port, servers=None, check=None):
        self.next_lbs.pop(fleet, None)
        self.lbs[fleet] = self._new_lb('%s-lb' % fleet, fleet, image_id, version, '%s:%d' % (listen_host, listen_port),
                                       0, check)
        self.calls.append(('create_lb', self.lbs[fleet].name, tuple(s['name'] for s in servers or ())))
        if self.on_create_lb:
            self.on_create_lb(servers or [])
        return self.lbs[fleet]

    def remove_load_balancer(self, fleet):
        self.lbs.pop(fleet, None)
        self.next_lbs.pop(fleet, None)

    @staticmethod
    def _health(check):
        return '%s %s' % (check.get('status', 200), check['path']) if check and check.get('path') else None

    def start_next_load_balancer(self, fleet, image_id, version, servers=None, check=None):
        current = self.lbs.get(fleet)
        if current is None or not current.running:
            raise ProviderError('the load balancer of fleet %s cannot be rolled: it is not running' % fleet)
        slot = 1 if current.api == ('127.0.0.1', 9999) else 0
        self.next_lbs[fleet] = self._new_lb('%s-lb-next' % fleet, fleet, image_id, version, current.listen, slot,
                                            check)
        self.calls.append(('start_next_lb', image_id, tuple(s['name'] for s in servers or ())))
        if self.on_start_next_lb:
            self.on_start_next_lb(servers or [])
        return self.next_lbs[fleet]

    def finish_load_balancer_roll(self, fleet, timeout):
        nxt = self.next_lbs.pop(fleet, None)
        if nxt is None:
            raise ProviderError('fleet %s has no new load balancer to hand over to' % fleet)
        self.lbs[fleet] = LoadBalancer('%s-lb' % fleet, nxt.id, fleet, nxt.image_id, nxt.version, nxt.listen,
                                       'running', nxt.api, nxt.stats, can_roll=True, health=nxt.health)
        self.calls.append(('finish_lb_roll', nxt.image_id))
        if self.on_finish_lb_roll:
            self.on_finish_lb_roll()
        return self.lbs[fleet]

    # records
    def acquire_lock(self, fleet, holder):
        if fleet in self.locks:
            raise LockHeld(fleet, dict(self.locks[fleet]))
        # The engine keeps labels: every value comes back as a string.
        self.locks[fleet] = {key: str(value) for key, value in holder.items()}

    def lock_holder(self, fleet):
        holder = self.locks.get(fleet)
        return dict(holder) if holder is not None else None

    def release_lock(self, fleet, token=None):
        holder = self.locks.get(fleet)
        if holder is None or token is not None and holder.get('token') != token:
            return False
        del self.locks[fleet]
        return True

    def read_history(self, fleet):
        return copy.deepcopy(self.histories.get(fleet, []))

    def write_history(self, fleet, entries):
        self.histories[fleet] = copy.deepcopy(list(entries)[-self.HISTORY_LIMIT:])

    def fleets(self):
        names = set(i.fleet for i in self.items.values())
        names.update(self.lbs, self.locks, (f for f, entries in self.histories.items() if entries))
        return sorted(names)

    def forget(self, fleet):
        self.histories.pop(fleet, None)
        self.locks.pop(fleet, None)
        self.remove_load_balancer(fleet)


class FakeLB:
    """HAProxy's runtime API over a dict of servers; ``health`` tells whether an address answers its check."""

    def __init__(self, provider, health):
        self.provider = provider
        self.health = health
        self.servers_ = {}
        self.capacity = []      # serving servers after every change
        self.commands = []
        self.error_rate = {}    # image id -> share of 5xx answers
        self.rtime = {}         # image id -> ms

    def _image(self, name):
        inst = self.provider.items.get(name)
        return inst.image_id if inst else None

    def _up(self, name):
        server = self.servers_[name]
        inst = self.provider.items.get(name)
        return server['admin'] != 'maint' and inst is not None and inst.state == 'running' and \
            self.health(inst.image_id) == 200

    def _record(self):
        self.capacity.append(sum(1 for n, s in self.servers_.items()
                                 if s['admin'] == 'ready' and s['weight'] > 0 and self._up(n)))

    def start_with(self, servers):
        """A new HAProxy: only the seeded servers, ready at their weight."""
        self.servers_.clear()
        for server in servers:
            self.servers_[server['name']] = {'addr': server['address'], 'port': server['port'], 'admin': 'ready',
                                             'weight': server['weight'], 'responses': 0, 'errors': 0, 'rtime': 0}
        self._record()

    def wait_ready(self, timeout=15, sleep=None, clock=None):
        return None

    def show_servers_state(self):
        return {n: {'addr': s['addr'], 'port': s['port'], 'admin': s['admin'], 'up': self._up(n),
                    'op_state': 'running' if self._up(n) else 'stopped', 'weight': s['weight'], 'check_health': 0}
                for n, s in self.servers_.items()}

    def _down_for(self, name):
        """HAProxy's lastchg of a server it sees DOWN (0: it just went down), None when up."""
        return None if self._up(name) else 0

    def show_stat(self):
        # Every read of the counters is a moment of traffic: 10 requests per unit of weight... of serving servers.
        for name, server in self.servers_.items():
            if server['admin'] == 'ready' and server['weight'] > 0 and self._up(name):
                got = server['weight'] // 10 + 1
                server['responses'] += got
                server['errors'] += int(round(got * self.error_rate.get(self._image(name), 0.0)))
                server['rtime'] = self.rtime.get(self._image(name), 1)
        return {n: {'status': 'UP' if self._up(n) else 'DOWN', 'weight': s['weight'], 'scur': 0,
                    'responses': s['responses'], 'errors': s['errors'], 'rtime': s['rtime'],
                    'check_status': 'L7OK' if self._up(n) else 'L7STS', 'addr': s['addr'],
                    'chkdown': s.get('chkdown', 0), 'down_for': self._down_for(n)}
                for n, s in self.servers_.items()}

    def servers(self):
        state = self.show_servers_state()
        stats = self.show_stat()
        for name, server in state.items():
            server.update({k: v for k, v in stats[name].items() if k not in ('weight', 'addr')})
        return state

    def add_server(self, name, address, port, weight, check=None):
        self.commands.append(('add', name, weight))
        if name in self.servers_:
            raise HAProxyError('Already exists a server with the same name in backend.')
        self.servers_[name] = {'addr': address, 'port': port, 'admin': 'maint', 'weight': weight,
                               'responses': 0, 'errors': 0, 'rtime': 0}
        self._record()

    def del_server(self, name):
        self.commands.append(('del', name))
        if name not in self.servers_:
            raise HAProxyError('No such server.')
        if self.servers_[name]['admin'] != 'maint':
            raise HAProxyError('Only servers in maintenance mode can be deleted.')
        del self.servers_[name]
        self._record()

    def set_state(self, name, state):
        self.apply([('state', name, state)])

    def set_weight(self, name, weight):
        self.apply([('weight', name, weight)])

    def shutdown_sessions(self, name):
        self.commands.append(('shutdown', name))

    def apply(self, changes):
        self.commands.append(('apply', tuple(changes)))
        for kind, name, value in changes:
            if name not in self.servers_:
                raise HAProxyError('No such server.')
        for kind, name, value in changes:
            if kind == 'state':
                self.servers_[name]['admin'] = value
            else:
                self.servers_[name]['weight'] = value
        self._record()


class World:
    """A provider, a load balancer, an HTTP probe and a clock wired into a FleetEngine factory."""

    def __init__(self):
        self.provider = FakeProvider()
        self.clock = FakeClock()
        self.health_by_image = {'sha256:bad': 503}
        self.lb = FakeLB(self.provider, self.status_of_image)
        self.provider_lb_api = self.lb
        # name -> (clock time, status): from that time on the instance answers the controller's check with
        # status, while the load balancer's own checks have not seen it fail yet (HAProxy needs `fall` of them).
        self.answers_after = {}
        self.provider.on_create_lb = self._create_lb
        self.provider.on_start_next_lb = self._start_next_lb
        self.provider.on_finish_lb_roll = self._finish_lb_roll
        self.provider.lb_api_of = self.lb_of
        self.next_lb = None
        self.old_lb = None

    def _create_lb(self, servers):
        self.lb.start_with(servers)  # self.lb, whichever FakeLB the world has now

    def _start_next_lb(self, servers):
        self.next_lb = type(self.lb)(self.provider, self.status_of_image, *self._lb_extra())
        self.next_lb.start_with(servers)

    def _lb_extra(self):
        return ()

    def _finish_lb_roll(self):
        self.old_lb, self.lb, self.next_lb = self.lb, self.next_lb, None

    def lb_of(self, lb):
        nxt = self.provider.next_lbs.get(lb.fleet)
        return self.next_lb if nxt is not None and lb.id == nxt.id and self.next_lb is not None else self.lb

    def status_of_image(self, image_id):
        return self.health_by_image.get(image_id, 200)

    def http(self, host, port, path, timeout):
        for inst in self.provider.items.values():
            if inst.endpoint == (host, port) and inst.state == 'running':
                since, status = self.answers_after.get(inst.name, (None, None))
                if since is not None and self.clock.now >= since:
                    return status, None
                return self.status_of_image(inst.image_id), None
        return None, 'ConnectionRefusedError: refused'

    def engine(self, spec=None, **kwargs):
        from ansible_collections.immutable.infra.plugins.module_utils.rollout import FleetEngine
        return FleetEngine(self.provider, 'web', spec or make_spec(), http=self.http, sleep=self.clock.sleep,
                           clock=self.clock, now=lambda: '2026-01-01T00:00:00Z', hostname='ctl', pid=4242,
                           **kwargs)

    def running_versions(self):
        return sorted(i.version for i in self.provider.items.values() if i.state == 'running')

    def serving_versions(self):
        return sorted(self.provider.items[n].version for n, s in self.lb.servers_.items()
                      if s['admin'] == 'ready' and s['weight'] > 0)

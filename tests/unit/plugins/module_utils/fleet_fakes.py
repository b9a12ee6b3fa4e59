# -*- coding: utf-8 -*-
"""In-memory stand-ins for the fleet engine's boundaries: provider, HAProxy runtime API, HTTP probe, clock.

FakeLB keeps HAProxy's rules that matter to a rollout (a new server starts in maint, del needs maint,
weights, drain) and records, after every change, how many servers serve traffic, so tests can assert the
capacity a user relies on never dropped.
"""

import itertools

from ansible_collections.immutable.infra.plugins.module_utils.fleet import resolve_spec
from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    CAPABILITIES, Instance, LoadBalancer, LockHeld, Provider, ProviderError,
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


class FakeProvider(Provider):
    """Every capability unless a test takes some away (``capabilities`` is per instance)."""

    name = 'fake'

    def __init__(self, capabilities=CAPABILITIES):
        self.capabilities = frozenset(capabilities)
        self.items = {}
        self.lb = None
        self.lock = None
        self.history = []
        self.counter = itertools.count(1)
        self.fail_create = False
        self.calls = []
        self.on_create_lb = None   # World: a new load balancer starts with the seeded servers

    # instances
    def instances(self, fleet):
        return sorted((self._copy(i) for i in self.items.values()), key=lambda i: (i.revision, i.name))

    @staticmethod
    def _copy(inst):
        return Instance(inst.name, inst.id, inst.fleet, inst.revision, inst.version, inst.image_id,
                        inst.service_port, inst.state, inst.endpoint, inst.address, inst.created)

    def create_instance(self, fleet, image_id, version, revision, service_port):
        if self.fail_create:
            raise ProviderError('engine says no')
        n = next(self.counter)
        name = '%s-r%d-%06d' % (fleet, revision, n)
        self.items[name] = Instance(name, 'id%d' % n, fleet, revision, version, image_id, service_port, 'running',
                                    ('127.0.0.1', 40000 + n), ('10.0.0.%d' % n, service_port),
                                    '2026-01-01T00:00:%02dZ' % (n % 60))
        self.calls.append(('create', name))
        return self._copy(self.items[name])

    def start_instance(self, instance):
        inst = self.items[instance.name]
        inst.state = 'running'
        self.calls.append(('start', inst.name))
        return self._copy(inst)

    def stop_instance(self, instance, timeout):
        if instance.name in self.items:
            self.items[instance.name].state = 'exited'
            self.calls.append(('stop', instance.name))

    def remove_instance(self, instance):
        if self.items.pop(instance.name, None) is not None:
            self.calls.append(('remove', instance.name))

    def diff(self, instance):
        return []

    # load balancer
    def load_balancer(self, fleet):
        return self.lb

    def create_load_balancer(self, fleet, image_id, version, listen_host, listen_port, servers=None, check=None):
        self.lb = LoadBalancer('%s-lb' % fleet, 'lbid', fleet, image_id, version,
                               '%s:%d' % (listen_host, listen_port), 'running', ('127.0.0.1', 9999),
                               ('127.0.0.1', 8404), can_roll=True, health=self._health(check))
        self.calls.append(('create_lb', self.lb.name, tuple(s['name'] for s in servers or ())))
        if self.on_create_lb:
            self.on_create_lb(servers or [])
        return self.lb

    def remove_load_balancer(self, fleet):
        self.lb = None

    @staticmethod
    def _health(check):
        return '%s %s' % (check.get('status', 200), check['path']) if check and check.get('path') else None

    def start_next_load_balancer(self, fleet, image_id, version, servers=None, check=None):
        self.next_lb = LoadBalancer('%s-lb-next' % fleet, 'lbnext', fleet, image_id, version, self.lb.listen,
                                    'running', ('127.0.0.1', 9998), ('127.0.0.1', 8403), can_roll=True,
                                    health=self._health(check))
        self.calls.append(('start_next_lb', image_id, tuple(s['name'] for s in servers or ())))
        self.on_start_next_lb(servers or [])
        return self.next_lb

    def finish_load_balancer_roll(self, fleet, timeout):
        nxt = self.next_lb
        self.lb = LoadBalancer(self.lb.name, nxt.id, fleet, nxt.image_id, nxt.version, nxt.listen, 'running',
                               nxt.api, nxt.stats, can_roll=True, health=nxt.health)
        self.next_lb = None
        self.calls.append(('finish_lb_roll', nxt.image_id))
        self.on_finish_lb_roll()
        return self.lb

    # records
    def acquire_lock(self, fleet, holder):
        if self.lock is not None:
            raise LockHeld(fleet, self.lock)
        self.lock = dict(holder)

    def lock_holder(self, fleet):
        return self.lock

    def release_lock(self, fleet, token=None):
        if self.lock is None or token is not None and self.lock.get('token') != token:
            return False
        self.lock = None
        return True

    def read_history(self, fleet):
        return [dict(e) for e in self.history]

    def write_history(self, fleet, entries):
        self.history = [dict(e) for e in entries]

    def fleets(self):
        return ['web'] if self.items or self.lb or self.history else []

    def forget(self, fleet):
        self.history = []
        self.lock = None


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
                    'chkdown': s.get('chkdown', 0)}
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
        return self.next_lb if lb.id == 'lbnext' and self.next_lb is not None else self.lb

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
                           clock=self.clock, now=lambda: '2026-01-01T00:00:00Z', lb_factory=self.lb_of,
                           hostname='ctl', pid=4242, **kwargs)

    def running_versions(self):
        return sorted(i.version for i in self.provider.items.values() if i.state == 'running')

    def serving_versions(self):
        return sorted(self.provider.items[n].version for n, s in self.lb.servers_.items()
                      if s['admin'] == 'ready' and s['weight'] > 0)

# -*- coding: utf-8 -*-
"""Fakes for heal and drift on top of fleet_fakes.py: instances that fall sick one by one, HAProxy's record of how
long a server has been DOWN, and the engine's filesystem diff of an instance."""

from ansible_collections.immutable.infra.plugins.module_utils import heal

from fleet_fakes import LB_IMAGE, FakeLB, World, target


class HealLB(FakeLB):
    """FakeLB plus HAProxy's record of how long a server has been DOWN (``show stat``: status, lastchg, which the
    traffic port gives as ``down_for``)."""

    backend = 'be_app'

    def __init__(self, provider, health, sick):
        super(HealLB, self).__init__(provider, health)
        self.sick = sick
        self.lastchg = {}

    def _up(self, name):
        return name not in self.sick and super(HealLB, self)._up(name)

    def _down_for(self, name):
        return None if self._up(name) else self.lastchg.get(name, 0)


class HealWorld(World):
    """A world whose instances can fall sick one by one (their health check answers 503, HAProxy sees them DOWN)."""

    def __init__(self):
        super(HealWorld, self).__init__()
        self.sick = set()
        self.sick_new = False     # instances created from now on fail their health check
        self.recover_after = {}   # name -> checks still failing before it answers 200 again
        self.lb = HealLB(self.provider, self.status_of_image, self.sick)
        self.baseline = set()
        self.checks = 0

    def http(self, host, port, path, timeout):
        for inst in self.provider.items.values():
            if inst.endpoint == (host, port) and inst.state == 'running':
                self.checks += 1
                if inst.name in self.recover_after:
                    self.recover_after[inst.name] -= 1
                    if self.recover_after[inst.name] < 0:
                        self.sick.discard(inst.name)
                if inst.name in self.sick or (self.sick_new and inst.name not in self.baseline):
                    return 503, None
                return self.status_of_image(inst.image_id), None
        return None, 'ConnectionRefusedError: refused'

    def deploy(self, image_id='sha256:v1'):
        result = self.engine().rollout(target(image_id), LB_IMAGE)
        assert result['outcome'] == 'succeeded'
        self.baseline = set(self.provider.items)
        self.lb.capacity = []
        self.checks = 0
        return result

    def healer(self, unhealthy_after=30, watch=True, spec=None):
        return heal.Healer(self.engine(spec), unhealthy_after, watch)

    def _lb_extra(self):
        return (self.sick,)

    def running(self):
        return sorted(n for n, i in self.provider.items.items() if i.state == 'running')

    def kill(self, name):
        self.provider.items[name].state = 'stopped'


# Docker's diff kinds (the numbers the tests give), in the provider-neutral words DockerProvider.diff returns.
KINDS = {0: 'changed', 1: 'added', 2: 'deleted'}


class FakeDiff:
    """The engine's diff of each instance against its image: ``changes[name]`` is a list of (path, kind)."""

    def __init__(self):
        self.changes = {}
        self.calls = []

    def __call__(self, instance):
        self.calls.append(instance.name)
        return [{'path': path, 'change': KINDS[kind]} for path, kind in self.changes.get(instance.name, [])]

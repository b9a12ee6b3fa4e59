# -*- coding: utf-8 -*-
"""The provider ports: Provider composes Compute, Traffic and Records; the probe is injected into the engine (the
provider's own, else the controller's GET); the fleet code reaches the load balancer only through the traffic
port."""

import os

from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    Compute, HttpProbe, Probe, Provider, Records, Traffic,
)
from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider
from ansible_collections.immutable.infra.plugins.module_utils.provider.haproxy_traffic import (
    HAProxyTraffic, split_weights,
)
from ansible_collections.immutable.infra.plugins.module_utils.rollout import FleetEngine, http_status

from fleet_fakes import FakeProvider, LB_IMAGE, World, target

MODULE_UTILS = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'module_utils')


class OwnProbe(Probe):
    def __init__(self):
        self.asked = []

    def check(self, host, port, path, timeout):
        self.asked.append((host, port, path))
        return 200, None


def test_a_provider_is_the_three_ports_and_the_docker_one_gets_its_members_from_haproxy():
    assert issubclass(Provider, Compute) and issubclass(Provider, Traffic) and issubclass(Provider, Records)
    assert issubclass(DockerProvider, HAProxyTraffic) and issubclass(DockerProvider, Provider)
    assert issubclass(FakeProvider, HAProxyTraffic)


def test_the_engine_uses_the_controllers_get_unless_the_provider_has_a_probe():
    engine = FleetEngine(FakeProvider(), 'web')
    assert isinstance(engine.probe, HttpProbe) and engine.probe.get is http_status
    own = OwnProbe()
    provider = FakeProvider()
    provider.probe = lambda: own
    assert FleetEngine(provider, 'web').probe is own
    # Given explicitly, a probe (or the http function tests give) wins over the provider's.
    other = OwnProbe()
    assert FleetEngine(provider, 'web', probe=other).probe is other
    assert FleetEngine(provider, 'web', http=lambda *a: (200, None)).probe is not own


def test_a_rollout_health_gates_through_the_providers_probe():
    world = World()
    own = OwnProbe()
    world.provider.probe = lambda: own
    engine = FleetEngine(world.provider, 'web', world.engine().spec, sleep=world.clock.sleep, clock=world.clock,
                         now=lambda: '2026-01-01T00:00:00Z', hostname='ctl', pid=4242)
    assert engine.rollout(target('sha256:v1'), LB_IMAGE)['outcome'] == 'succeeded'
    assert own.asked and all(path == '/healthz' for dummy, dummy2, path in own.asked)


def test_split_weights_give_each_group_its_share():
    assert split_weights([(['a'], 20), (['b', 'c'], 80)]) == {'a': 50, 'b': 100, 'c': 100}
    # A canary of one at 10 % next to three baseline instances at normal weight: fleet.canary_weights' 33.
    assert split_weights([(['k'], 10), (['b1', 'b2', 'b3'], 90)]) == {'k': 33, 'b1': 100, 'b2': 100, 'b3': 100}
    assert split_weights([(['a'], 0), (['b'], 100)]) == {'a': 0, 'b': 100}
    assert split_weights([(['a'], 0.01), (['b'], 99.99)])['a'] == 1


def test_the_fleet_code_never_talks_to_haproxy_itself():
    for name in ('rollout.py', 'heal.py', 'drift_scan.py', 'drift.py', 'fleet.py'):
        with open(os.path.join(MODULE_UTILS, name)) as handle:
            text = handle.read()
        assert 'RuntimeAPI' not in text and 'module_utils.haproxy' not in text and "'show " not in text, name

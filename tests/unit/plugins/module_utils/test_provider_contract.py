# -*- coding: utf-8 -*-
"""The provider contract (tests/contract/provider_contract.py) against the in-memory fake the engine's unit tests
use: FakeProvider for the ports, FakeLB (through World, as the engine's tests wire it) for the runtime API."""

import pytest

from ansible_collections.immutable.infra.tests.contract.provider_contract import Contract, ProviderContract

from fleet_fakes import World


@pytest.fixture
def contract():
    world = World()
    yield Contract(world.provider, 'sha256:v1', ('sha256:lb', 'sha256:lb2'), 'web', 'api', ('127.0.0.1', 18080),
                   world.provider.write_file, world.lb_of, world.http)


class TestFakeProvider(ProviderContract):
    """Every contract test against FakeProvider."""

# -*- coding: utf-8 -*-
"""The provider registry: ``docker`` by default, one connection shared by the fleet provider and the image store,
capabilities known without connecting, and a clear error naming the known providers for any other name."""

import pytest
import yaml

from ansible_collections.immutable.infra.plugins.doc_fragments.engine import ModuleDocFragment as EngineFragment
from ansible_collections.immutable.infra.plugins.inventory import fleet as fleet_inventory
from ansible_collections.immutable.infra.plugins.lookup import image as image_lookup
from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.images import DockerImageStore, ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    CAPABILITIES, ProviderError, registry,
)
from ansible_collections.immutable.infra.plugins.module_utils.provider import docker as docker_provider

from fake_engine import FakeClient, make_store


@pytest.fixture
def clients(monkeypatch):
    """The Docker connection's client factory: records the docker_host of every client made."""
    made = []
    _store, api = make_store()

    def client(docker_host=None, timeout=60):
        made.append(docker_host)
        return FakeClient(api)
    monkeypatch.setattr(docker_provider, 'docker_client', client)
    return made


def test_docker_is_the_default_and_the_only_provider_today():
    assert registry.DEFAULT_PROVIDER == 'docker'
    assert registry.provider_names() == ['docker']


def test_one_connection_gives_the_provider_and_the_store_one_client(clients):
    connection = registry.connect('docker', {'docker_host': 'tcp://127.0.0.1:2375', 'repository': 'itest'})
    provider = connection.provider()
    store = connection.image_store()
    assert clients == ['tcp://127.0.0.1:2375']
    assert isinstance(provider, docker_provider.DockerProvider) and isinstance(store, DockerImageStore)
    assert provider.client is store.client
    assert provider.repository == 'itest' and store.repository == 'itest'
    assert provider.docker_host == 'tcp://127.0.0.1:2375'
    assert provider.name == 'docker' and connection.name == 'docker'


def test_get_provider_and_get_image_store_default_to_docker_and_the_immutable_repository(clients):
    provider = registry.get_provider(params={})
    store = registry.get_image_store(None, {'repository': None})
    assert isinstance(provider, docker_provider.DockerProvider) and provider.repository == 'immutable'
    assert isinstance(store, DockerImageStore) and store.repository == 'immutable'
    assert clients == [None, None]


def test_capabilities_are_known_without_connecting(monkeypatch):
    def no_engine(*args, **kwargs):
        raise AssertionError('the registry connected to get capabilities')
    monkeypatch.setattr(docker_provider, 'docker_client', no_engine)
    assert registry.capabilities('docker') == frozenset(CAPABILITIES)
    assert registry.capabilities() == docker_provider.DockerProvider.capabilities


@pytest.mark.parametrize('call', [registry.get_provider, registry.get_image_store, registry.connect,
                                  lambda name, params: registry.capabilities(name)])
def test_an_unknown_provider_is_refused_naming_the_known_ones(clients, call):
    with pytest.raises(registry.UnknownProviderError) as caught:
        call('swarm', {})
    assert str(caught.value) == ("unknown provider 'swarm': the known providers are docker (option provider, "
                                 "variable immutable_provider)")
    # Every caller that reports engine errors reports it: fleet code (ProviderError), catalog code (ImageStoreError).
    assert isinstance(caught.value, ProviderError) and isinstance(caught.value, ImageStoreError)
    assert clients == []


def test_an_unreachable_engine_is_the_providers_own_error(monkeypatch):
    def unreachable(docker_host=None):
        raise ImageStoreError('cannot reach the Docker engine at %s' % docker_host)
    monkeypatch.setattr(docker_provider, 'docker_client', unreachable)
    with pytest.raises(ImageStoreError, match='cannot reach the Docker engine at tcp://x:1'):
        registry.get_provider('docker', {'docker_host': 'tcp://x:1'})


def _option(documentation, name='provider'):
    return yaml.safe_load(documentation)['options'][name]


@pytest.mark.parametrize('documentation', [EngineFragment.DOCUMENTATION, image_lookup.DOCUMENTATION,
                                           fleet_inventory.DOCUMENTATION],
                         ids=['doc_fragments/engine', 'lookup/image', 'inventory/fleet'])
def test_the_documented_provider_option_is_the_registrys(documentation):
    option = _option(documentation)
    assert option['choices'] == registry.provider_names()
    assert option['default'] == registry.DEFAULT_PROVIDER
    assert option['type'] == 'str' and str(option['version_added']) == '0.2.0'


def test_every_engine_module_takes_the_provider_option():
    spec = engine_argument_spec()
    assert spec['provider'] == {'type': 'str', 'default': 'docker', 'choices': ['docker']}


# The Docker provider's read-only listing for inventories --------------------------------------------------
class ContainersAPI:
    def __init__(self, containers):
        self.listed = containers
        self.asked = []

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        self.asked.append((all, filters))
        return self.listed


def test_all_instances_lists_every_fleets_instances_from_one_call():
    labels = {'io.immutable-infra.fleet': 'web', 'io.immutable-infra.role': 'instance',
              'io.immutable-infra.revision': '3', 'io.immutable-infra.version': '1.1.0',
              'io.immutable-infra.service-port': '8080', 'io.immutable-infra.repository': 'other'}
    api = ContainersAPI([
        {'Id': 'a', 'Names': ['/web-r3-aaaaaa'], 'Labels': labels, 'State': 'running', 'ImageID': 'sha256:abc',
         'Created': 0},
        {'Id': 'b', 'Names': ['/web-lb'], 'Labels': dict(labels, **{'io.immutable-infra.role': 'lb'}),
         'State': 'running'},
        {'Id': 'c', 'Names': ['/old'], 'Labels': {'io.immutable-infra.fleet': 'old'}, 'State': 'exited'},
        {'Id': 'd', 'Names': ['/blank'], 'Labels': {'io.immutable-infra.fleet': ''}, 'State': 'running'},
    ])
    provider = docker_provider.DockerProvider(FakeClient(api), 'immutable')
    found = provider.all_instances(include_stopped=True)
    assert api.asked == [(True, {'label': 'io.immutable-infra.fleet'})]
    assert [(i.name, i.id, i.fleet, i.revision, i.version, i.image_id, i.service_port, i.state) for i in found] == [
        ('web-r3-aaaaaa', 'a', 'web', 3, '1.1.0', 'sha256:abc', 8080, 'running'),
        ('old', 'c', 'old', None, None, None, None, 'stopped'),
    ]
    assert provider.connection_vars(found[0]) == {'ansible_connection': 'community.docker.docker',
                                                  'ansible_host': 'web-r3-aaaaaa'}
    remote = docker_provider.DockerProvider(FakeClient(api), 'immutable', docker_host='tcp://h:2375')
    assert remote.connection_vars(found[0])['ansible_docker_extra_args'] == '-H tcp://h:2375'

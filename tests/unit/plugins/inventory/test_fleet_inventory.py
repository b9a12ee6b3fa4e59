# -*- coding: utf-8 -*-
"""The fleet inventory plugin against a fake engine: running instances only, grouped by fleet, revision and
version, with hostvars for the image and the docker connection."""

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.doc_fragments.constructed import ModuleDocFragment as Constructed

from ansible_collections.immutable.infra.plugins.inventory import fleet as fleet_inventory
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import docker as docker_provider
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    LABEL_FLEET, LABEL_IMAGE_ID, LABEL_REVISION, LABEL_ROLE, LABEL_VERSION,
)

LOAD_NAME = 'ansible_collections.immutable.infra.plugins.inventory.fleet'
# What the plugin loader does when it loads the plugin: register its documented options and its fragment's.
OPTIONS = dict(yaml.safe_load(Constructed.DOCUMENTATION)['options'])
OPTIONS.update(yaml.safe_load(fleet_inventory.DOCUMENTATION)['options'])
C.config.initialize_plugin_configuration_definitions('inventory', LOAD_NAME, OPTIONS)


def container(name, fleet='web', role='instance', revision='3', version='1.1.0', state='running', image='sha256:abc'):
    labels = {LABEL_FLEET: fleet, LABEL_ROLE: role, LABEL_REVISION: revision, LABEL_VERSION: version,
              LABEL_IMAGE_ID: image}
    return {'Id': 'id-' + name, 'Names': ['/' + name], 'Labels': labels, 'State': state, 'ImageID': image}


CONTAINERS = [
    container('web-r3-aaaaaa'),
    container('web-r3-bbbbbb'),
    container('web-r2-cccccc', revision='2', version='1.0.0+build.5', state='exited', image='sha256:old'),
    container('web-lb', role='lb'),
    container('web-lock', role='lock', state='created'),
    container('api-r1-dddddd', fleet='api', version='2.0.0'),
    {'Id': 'x', 'Names': ['/nolabel'], 'Labels': {LABEL_FLEET: ''}, 'State': 'running'},
]


class FakeAPI:
    def __init__(self, fail=False):
        self.asked = []
        self.fail = fail

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        self.asked.append((all, filters))
        if self.fail:
            raise RuntimeError('engine exploded')
        return [c for c in CONTAINERS if all or c['State'] == 'running']


class FakeClient:
    def __init__(self, api):
        self.api = api


@pytest.fixture
def engine(monkeypatch):
    api = FakeAPI()
    hosts = []

    def client(docker_host=None, timeout=60):
        hosts.append(docker_host)
        return FakeClient(api)
    monkeypatch.setattr(docker_provider, 'docker_client', client)
    return api, hosts


def parse(tmp_path, config, name='fleets.immutable.yml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(dict({'plugin': 'immutable.infra.fleet'}, **config)))
    plugin = fleet_inventory.InventoryModule()
    plugin._load_name = LOAD_NAME
    assert plugin.verify_file(str(path))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(path), cache=False)
    return inventory


def members(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def test_running_instances_grouped_by_fleet_revision_and_version(engine, tmp_path):
    api, hosts = engine
    inventory = parse(tmp_path, {})
    assert api.asked == [(False, {'label': LABEL_FLEET})] and hosts == [None]
    assert sorted(inventory.hosts) == ['api-r1-dddddd', 'web-r3-aaaaaa', 'web-r3-bbbbbb']
    assert members(inventory, 'fleet_instances') == ['api-r1-dddddd', 'web-r3-aaaaaa', 'web-r3-bbbbbb']
    assert members(inventory, 'fleet_web') == ['web-r3-aaaaaa', 'web-r3-bbbbbb']
    assert members(inventory, 'fleet_web_revision_3') == ['web-r3-aaaaaa', 'web-r3-bbbbbb']
    assert members(inventory, 'fleet_web_version_1_1_0') == ['web-r3-aaaaaa', 'web-r3-bbbbbb']
    assert members(inventory, 'fleet_api') == ['api-r1-dddddd']
    hostvars = inventory.get_host('web-r3-aaaaaa').vars
    assert hostvars['ansible_connection'] == 'community.docker.docker'
    assert hostvars['ansible_host'] == 'web-r3-aaaaaa'
    assert hostvars['immutable_fleet'] == 'web' and hostvars['immutable_revision'] == '3'
    assert hostvars['immutable_version'] == '1.1.0' and hostvars['immutable_image_id'] == 'sha256:abc'
    assert hostvars['immutable_container_id'] == 'id-web-r3-aaaaaa'
    assert 'ansible_docker_extra_args' not in hostvars


def test_load_balancer_and_lock_are_not_hosts(engine, tmp_path):
    inventory = parse(tmp_path, {'include_stopped': True})
    assert 'web-lb' not in inventory.hosts and 'web-lock' not in inventory.hosts
    assert 'web-r2-cccccc' in inventory.hosts
    assert members(inventory, 'fleet_web_version_1_0_0_build_5') == ['web-r2-cccccc']
    assert inventory.get_host('web-r2-cccccc').vars['immutable_instance_state'] == 'stopped'
    assert inventory.get_host('web-r2-cccccc').vars['immutable_engine_state'] == 'exited'


def test_only_the_fleets_asked_for_and_the_docker_host(engine, tmp_path):
    api, hosts = engine
    inventory = parse(tmp_path, {'fleets': ['api'], 'docker_host': 'tcp://127.0.0.1:2375'}, name='api.fleet.yml')
    assert sorted(inventory.hosts) == ['api-r1-dddddd'] and hosts == ['tcp://127.0.0.1:2375']
    assert inventory.get_host('api-r1-dddddd').vars['ansible_docker_extra_args'] == '-H tcp://127.0.0.1:2375'


def test_constructed_keyed_groups(engine, tmp_path):
    inventory = parse(tmp_path, {'fleets': ['web'], 'keyed_groups': [{'key': 'immutable_version', 'prefix': 'v'}]})
    assert members(inventory, 'v_1_1_0') == ['web-r3-aaaaaa', 'web-r3-bbbbbb']


def test_other_file_names_are_not_ours(tmp_path):
    path = tmp_path / 'hosts.yml'
    path.write_text('plugin: immutable.infra.fleet\n')
    assert not fleet_inventory.InventoryModule().verify_file(str(path))


def test_engine_errors_are_parser_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(docker_provider, 'docker_client', lambda docker_host=None: FakeClient(FakeAPI(fail=True)))
    with pytest.raises(AnsibleParserError, match='cannot list containers: engine exploded'):
        parse(tmp_path, {})

    def unreachable(docker_host=None):
        raise ImageStoreError('cannot reach the Docker engine')
    monkeypatch.setattr(docker_provider, 'docker_client', unreachable)
    with pytest.raises(AnsibleParserError, match='cannot reach the Docker engine'):
        parse(tmp_path, {})


def test_the_provider_option_is_the_registrys(engine, tmp_path):
    api, hosts = engine
    inventory = parse(tmp_path, {'provider': 'docker'})
    assert sorted(inventory.hosts) == ['api-r1-dddddd', 'web-r3-aaaaaa', 'web-r3-bbbbbb'] and hosts == [None]
    with pytest.raises(AnsibleError, match="Invalid value 'swarm' for config 'provider'"):
        parse(tmp_path, {'provider': 'swarm'})

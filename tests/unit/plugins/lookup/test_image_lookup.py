# -*- coding: utf-8 -*-
"""The image lookup against an in-memory engine: IDs pinned by channel and version, clear errors."""

import datetime
import os
import sys

import pytest
import yaml

from ansible import constants as C
from ansible.errors import AnsibleError, AnsibleLookupError

from ansible_collections.immutable.infra.plugins.lookup import image as image_lookup
from ansible_collections.immutable.infra.plugins.module_utils import channels
from ansible_collections.immutable.infra.plugins.module_utils.provider import docker as docker_provider

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'module_utils'))
from fake_engine import FakeClient, add_baked, make_store  # noqa: E402 pylint: disable=wrong-import-position

NOW = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def engine(monkeypatch):
    store, api = make_store()
    ids = {v: add_baked(api, 'web', v) for v in ('1.0.0', '1.1.0')}
    ids['rc'] = add_baked(api, 'web', '2.0.0-rc.1', verified=False)
    channels.set_channel(store, 'web', 'prod', 'present', '1.0.0', now=NOW)
    hosts = []

    def client(docker_host=None, timeout=60):
        hosts.append(docker_host)
        return FakeClient(api)
    monkeypatch.setattr(docker_provider, 'docker_client', client)
    return ids, hosts


LOAD_NAME = 'ansible_collections.immutable.infra.plugins.lookup.image'
# What the plugin loader does when it loads the lookup: register its documented options.
C.config.initialize_plugin_configuration_definitions(
    'lookup', LOAD_NAME, yaml.safe_load(image_lookup.DOCUMENTATION)['options'])


def run(*terms, **kwargs):
    lookup = image_lookup.LookupModule()
    lookup._load_name = LOAD_NAME
    return lookup.run(list(terms), variables={}, **kwargs)


def test_channel_resolves_to_the_pinned_image_id(engine):
    ids, _hosts = engine
    assert run('web', channel='prod') == [ids['1.0.0']]


def test_latest_is_the_highest_verified_version(engine):
    ids, _hosts = engine
    assert run('web', version='latest') == [ids['1.1.0']]
    assert run('web', version='1.0.0') == [ids['1.0.0']]


def test_docker_host_and_repository_are_passed(engine):
    _ids, hosts = engine
    with pytest.raises(AnsibleLookupError, match='no image named web in repository other; it has no images'):
        run('web', version='latest', repository='other', docker_host='tcp://127.0.0.1:2375')
    assert hosts[-1] == 'tcp://127.0.0.1:2375'


@pytest.mark.parametrize('kwargs, message', [
    (dict(channel='staging'), 'web has no channel staging; channels: prod'),
    (dict(version='2.0.0-rc.1'), r'web 2\.0\.0-rc\.1 is not verified'),
    (dict(version='3.0.0'), 'web has no version 3.0.0'),
    (dict(), 'pass exactly one of channel'),
])
def test_errors_are_lookup_errors(engine, kwargs, message):
    with pytest.raises(AnsibleLookupError, match='^immutable.infra.image: ' + message):
        run('web', **kwargs)


def test_a_name_is_required(engine):
    with pytest.raises(AnsibleLookupError, match='pass an image name'):
        run(channel='prod')


def test_the_provider_option_is_the_registrys(engine):
    ids, hosts = engine
    assert run('web', version='latest', provider='docker') == [ids['1.1.0']] and hosts == [None]
    with pytest.raises(AnsibleError, match="Invalid value 'swarm' for config 'provider'"):
        run('web', version='latest', provider='swarm')

# -*- coding: utf-8 -*-
"""The provider contract (tests/contract/provider_contract.py) against the Docker provider on the real engine.

Images, all in the session's test repository (conftest.REPOSITORY, removed at the start and end of the session):
the lb image baked by bake.yml (base first; cache hits when another test file baked them), a second lb image
that differs from it only by a label (so a roll has a new image ID to go to), and a service image made from the
bootstrap OS image in one commit: Python's HTTP server on the service port, stopped by SIGINT (the stop-signal
label an image definition's ``container.stop_signal`` bakes). Each test starts with neither fleet on the engine
and removes what it left.
"""

import os

import pytest

from conftest import REPOSITORY, bake_images, remove_fleet

from ansible_collections.immutable.infra.plugins.module_utils.haproxy import RuntimeAPI
from ansible_collections.immutable.infra.plugins.module_utils.images import LABEL_STOP_SIGNAL
from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider
from ansible_collections.immutable.infra.plugins.module_utils.rollout import http_status
from ansible_collections.immutable.infra.tests.contract.provider_contract import (
    SERVICE_PORT, Contract, ProviderContract,
)

FLEET = 'i12c-contract'
OTHER_FLEET = 'i12c-contract-b'
LISTEN = ('127.0.0.1', 28701)
OS_IMAGE = os.environ.get('IMMUTABLE_OS_IMAGE', 'immutable-infra/debian:bookworm')
BAKES = [{'image': 'base', 'version': '1.0.0'}, {'image': 'lb', 'version': '1.0.0'}]


def commit(engine, image, tag, changes):
    """``image`` with ``changes`` (Dockerfile instructions) as ``REPOSITORY/contract-<tag>``: its ID."""
    container = engine.containers.create(image, name='%s-build-%s' % (FLEET, tag))
    try:
        return container.commit('%s/contract-%s' % (REPOSITORY, tag), 'latest', changes=changes).id
    finally:
        container.remove(force=True)


@pytest.fixture(scope='module')
def images(engine):
    """``(service image ID, (lb image ID, other lb image ID))``."""
    bake_images(BAKES)
    lb = engine.images.get('%s/lb:1.0.0' % REPOSITORY)
    other_lb = commit(engine, lb.id, 'lb-next', ['LABEL io.immutable-infra.contract=next'])
    service = commit(engine, OS_IMAGE, 'service', [
        'ENV PYTHONDONTWRITEBYTECODE=1',
        'WORKDIR /srv',
        'LABEL %s=SIGINT' % LABEL_STOP_SIGNAL,
        'CMD ["python3", "-m", "http.server", "%d"]' % SERVICE_PORT,
    ])
    return service, (lb.id, other_lb)


def write_file(engine):
    def write(instance, path):
        result = engine.containers.get(instance.id).exec_run(['sh', '-c', 'echo drift > %s' % path])
        assert result.exit_code == 0, result.output
    return write


@pytest.fixture
def contract(engine, images):
    for fleet in (FLEET, OTHER_FLEET):
        remove_fleet(engine, fleet)
    service, lbs = images
    yield Contract(DockerProvider(engine, REPOSITORY), service, lbs, FLEET, OTHER_FLEET, LISTEN, write_file(engine),
                   lambda lb: RuntimeAPI(*lb.api), http_status)
    for fleet in (FLEET, OTHER_FLEET):
        remove_fleet(engine, fleet)


class TestDockerProvider(ProviderContract):
    """Every contract test against DockerProvider on the local engine."""

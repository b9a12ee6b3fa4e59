# -*- coding: utf-8 -*-
"""The gate of every image of a project (besides its own tests): it starts with its own entry point and command
and stays running, and it is sealed (a valid manifest that matches its labels).

Run by playbooks/tasks/bake_build.yml with the fixtures plugin: pytest -p image_fixtures tests/gate/test_started.py
--image=REF (tests/image on PYTHONPATH).
"""

import time
import uuid

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.image_manifest import validate_manifest

STAY_RUNNING = 3


@pytest.fixture(scope='module')
def started(engine, image):
    """A container of the image run as an instance is (its own entry point and command), watched for a while."""
    ports = {port: ('127.0.0.1', None) for port in (image.attrs['Config'].get('ExposedPorts') or {})}
    created = engine.containers.run(image.id, name='imggate-%s' % uuid.uuid4().hex[:10], detach=True, ports=ports,
                                    labels={'io.immutable-infra.test': 'image'})
    try:
        deadline = time.monotonic() + STAY_RUNNING
        states = []
        while time.monotonic() < deadline:
            created.reload()
            states.append(created.status)
            if created.status in ('exited', 'dead'):
                break
            time.sleep(0.25)
        yield created, states
    finally:
        created.remove(force=True, v=True)


def test_the_image_starts_and_stays_running(started, image):
    container, states = started
    config = image.attrs['Config']
    assert container.status == 'running', (
        'a container of the image (entrypoint %s, cmd %s) did not stay running for %d s: %s. Its last output: %s'
        % (config.get('Entrypoint'), config.get('Cmd'), STAY_RUNNING, states[-1:],
           container.logs(tail=30).decode('utf-8', 'replace')))


def test_the_image_is_sealed_with_a_manifest_that_matches_its_labels(manifest, labels):
    assert validate_manifest(manifest) == []
    assert manifest['name'] == labels['io.immutable-infra.name']
    assert manifest['version'] == labels['io.immutable-infra.version']
    assert manifest['bake_key'] == labels['io.immutable-infra.bake-key']
    assert manifest['parent_image'] == labels['io.immutable-infra.parent']
    assert manifest['roles'][-1] == 'image_seal'

# -*- coding: utf-8 -*-
"""The gate of every image of a project (besides its own tests): it starts with its own entry point and command
and stays running, and it is sealed (a valid manifest that matches its labels).

Run by playbooks/tasks/bake_build.yml with the fixtures plugin: pytest -p image_fixtures tests/gate/test_started.py
--image=REF (tests/image on PYTHONPATH).
"""

import datetime
import time
import uuid

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.image_manifest import validate_manifest

STAY_RUNNING = 3


def watch(container, since):
    """Poll ``container`` until STAY_RUNNING seconds after ``since`` (monotonic) or until it exits."""
    states = []
    while True:
        container.reload()
        states.append(container.status)
        if container.status in ('exited', 'dead') or time.monotonic() >= since + STAY_RUNNING:
            return states
        time.sleep(0.25)


@pytest.fixture(scope='module')
def started(request, engine, image):
    """A container of the image run as an instance is (its own entry point and command), watched for a while.

    An image with a service port is watched in the session's container (image_fixtures' ``container``: the
    image's own entry point and command, started before the image's own tests ran), so the watch counts the
    time those tests took; it must still run the process it started with (same start time, never restarted).
    An image without one gets a container of its own, since the session's runs ``sleep infinity``.
    """
    if image.attrs['Config'].get('ExposedPorts'):
        container = request.getfixturevalue('container')
        container.reload()
        started_at = container.attrs['State']['StartedAt']
        since = time.monotonic() - container_age(container)
        states = watch(container, since)
        assert container.attrs['State']['StartedAt'] == started_at, 'the container was started again'
        yield container, states
        return
    created = engine.containers.run(image.id, name='imggate-%s' % uuid.uuid4().hex[:10], detach=True,
                                    labels={'io.immutable-infra.test': 'image'})
    try:
        yield created, watch(created, time.monotonic())
    finally:
        created.remove(force=True, v=True)


def container_age(container):
    """Seconds since the container's process started, by the engine's clock (State.StartedAt)."""
    started_at = container.attrs['State']['StartedAt']
    # RFC 3339 with nanoseconds (2026-12-02T15:17:01.123456789Z): whole seconds, then the fraction to microseconds.
    whole, _dot, fraction = started_at.rstrip('Z').partition('.')
    started = datetime.datetime.strptime(whole, '%Y-%m-%dT%H:%M:%S').replace(
        microsecond=int((fraction + '000000')[:6]), tzinfo=datetime.timezone.utc)
    return max(0.0, (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds())


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

# -*- coding: utf-8 -*-
"""Fixtures of the image tests: pytest + testinfra against a throwaway container of one baked image.

    pytest tests/image/test_web.py --image=immutable/web:1.2.0

playbooks/bake.yml runs them after every Packer build; only an image that passes is tagged verified. The
collection's own image tests get them through tests/image/conftest.py; the tests of a project's image are run
with this file as a plugin (pytest -p image_fixtures, tests/image on PYTHONPATH), so they use the fixtures
engine, image, labels, container, host, published and manifest as they are, and may import sealed.py.
"""

import json
import time
import uuid

import docker
import pytest
import testinfra


def pytest_addoption(parser):
    parser.addoption('--image', action='store', required=True,
                     help='image to test, for example immutable/web:1.2.0 or an image ID')


@pytest.fixture(scope='session')
def engine():
    return docker.from_env(timeout=60)


@pytest.fixture(scope='session')
def image(engine, request):
    ref = request.config.getoption('--image')
    try:
        return engine.images.get(ref)
    except docker.errors.ImageNotFound:
        pytest.fail('image %s is not on the engine' % ref)


@pytest.fixture(scope='session')
def labels(image):
    return image.attrs['Config'].get('Labels') or {}


@pytest.fixture(scope='session')
def container(engine, image):
    """One container of the image, run with its own entrypoint and command, ports published on loopback."""
    name = 'imgtest-%s' % uuid.uuid4().hex[:10]
    ports = {port: ('127.0.0.1', None) for port in (image.attrs['Config'].get('ExposedPorts') or {})}
    run_kwargs = dict(name=name, detach=True, ports=ports, labels={'io.immutable-infra.test': 'image'})
    if not ports:
        # An image without a service (base): keep it alive for the checks.
        run_kwargs['command'] = ['sleep', 'infinity']
    created = engine.containers.run(image.id, **run_kwargs)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            created.reload()
            if created.status == 'running':
                break
            if created.status in ('exited', 'dead'):
                pytest.fail('container of %s exited: %s' % (image.tags, created.logs(tail=30).decode()))
            time.sleep(0.2)
        yield created
    finally:
        created.remove(force=True, v=True)


@pytest.fixture(scope='session')
def host(container):
    return testinfra.get_host('docker://%s' % container.name)


@pytest.fixture(scope='session')
def published(container):
    """``{'8080/tcp': 49153, ...}``: host ports on 127.0.0.1 of the container's exposed ports."""
    container.reload()
    return {port: int(bindings[0]['HostPort'])
            for port, bindings in (container.attrs['NetworkSettings']['Ports'] or {}).items() if bindings}


@pytest.fixture(scope='session')
def manifest(host):
    text = host.file('/etc/immutable-infra/manifest.json').content_string
    return json.loads(text)

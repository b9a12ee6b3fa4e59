# -*- coding: utf-8 -*-
"""Image tests of web: the service answers, /version tells the truth, workers are not root."""

import json
import time
import urllib.error
import urllib.request

import pytest

from sealed import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import


def _get(port, path):
    """GET on 127.0.0.1, retried for up to 10 s while the service starts; returns (status, body)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope='module')
def port(published):
    return published['8080/tcp']


def test_healthz_answers_200(port):
    status, body = _get(port, '/healthz')
    assert status == 200
    assert body.strip() == 'ok'


def test_version_endpoint_matches_the_labels(port, labels):
    status, body = _get(port, '/version')
    assert status == 200
    data = json.loads(body)
    assert data['name'] == labels['io.immutable-infra.name']
    assert data['version'] == labels['io.immutable-infra.version']
    assert data['revision'] == labels['org.opencontainers.image.revision']
    assert data['built'] == labels['org.opencontainers.image.created']


def test_page_shows_the_version(port, labels):
    status, body = _get(port, '/')
    assert status == 200
    assert labels['io.immutable-infra.version'] in body


def test_workers_are_not_root(host, port):
    _get(port, '/healthz')
    workers = host.process.filter(comm='nginx')
    assert any('worker' in p.args for p in workers)
    for proc in workers:
        if 'worker' in proc.args:
            assert proc.user != 'root'

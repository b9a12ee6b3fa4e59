# -*- coding: utf-8 -*-
"""Image tests of lb: valid config, runtime API answers, empty backend ready for servers, workers not root."""

import socket
import time

import pytest

from sealed import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import


def runtime_api(port, command):
    """One command on HAProxy's TCP runtime API; retried for up to 10 s while HAProxy starts."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(('127.0.0.1', port), timeout=3) as conn:
                conn.sendall(command.encode() + b'\n')
                chunks = []
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return b''.join(chunks).decode()
                    chunks.append(chunk)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope='module')
def api_port(published):
    return published['9999/tcp']


def test_config_is_valid(host):
    assert host.run('haproxy -c -f /etc/haproxy/haproxy.cfg').rc == 0


def test_runtime_api_answers(api_port):
    assert 'Name: HAProxy' in runtime_api(api_port, 'show info')


def test_backend_is_empty_and_ready(api_port):
    assert 'be_app' in runtime_api(api_port, 'show backend')
    state = runtime_api(api_port, 'show servers state be_app')
    lines = [line for line in state.splitlines() if line.strip() and not line.startswith('#')]
    assert lines == ['1'] or lines == []


def test_workers_are_not_root(host, api_port):
    runtime_api(api_port, 'show info')
    users = {p.user for p in host.process.filter(comm='haproxy')}
    assert users, 'no haproxy process'
    assert users - {'root'}, 'every haproxy process runs as root'

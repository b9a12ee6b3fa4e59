# -*- coding: utf-8 -*-
"""Image tests of hello: the gate the bake runs against a throwaway container of the new image.

    (run by immutable.infra.bake: pytest -p image_fixtures tests/image/test_hello.py --image=hello-team/hello:1.0.0)

The fixtures (image, labels, container, host, published) come from the collection's image_fixtures plugin: the
container runs with the image's own entrypoint, command and user, its ports published on 127.0.0.1.
"""

import json
import time
import urllib.error
import urllib.request

import pytest
import testinfra

PORT = '8081/tcp'

# Prints [[command line, user name], ...] of every process in the container (from /proc: no ps needed).
PROCESSES = r"""
import json, os, pwd
procs = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode().strip()
        with open("/proc/%s/status" % pid) as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except OSError:
        continue
    procs.append([cmdline, pwd.getpwuid(uid).pw_name])
print(json.dumps(procs))
"""


def _get(port, path):
    """GET on 127.0.0.1, retried for up to 10 s while the service starts; returns (status, content type, body)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=2) as response:
                return response.status, response.headers.get('Content-Type', ''), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get('Content-Type', ''), exc.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(scope='module')
def host(container):
    """The container under test (this module's own: the testinfra plugin's host fixture would be the controller)."""
    return testinfra.get_host('docker://%s' % container.name)


@pytest.fixture(scope='module')
def port(published):
    assert PORT in published, 'the image exposes %s, not %s' % (sorted(published), PORT)
    return published[PORT]


def test_ping_answers_ok(port):
    status, body = _get(port, '/ping')[::2]
    assert (status, body) == (200, 'ok')


def test_version_is_the_baked_one(port, labels):
    status, content_type, body = _get(port, '/version')
    assert status == 200
    assert content_type == 'application/json'
    assert json.loads(body) == {'name': labels['io.immutable-infra.name'],
                                'version': labels['io.immutable-infra.version']}


def test_unknown_path_is_404(port):
    assert _get(port, '/healthz')[0] == 404


def test_the_service_runs_as_app_not_root(host, port):
    _get(port, '/ping')
    procs = json.loads(host.check_output('python3 -c %s', PROCESSES))
    service = [user for cmdline, user in procs if '/opt/hello/hello.py' in cmdline]
    assert service == ['app'], procs


def test_the_application_files_belong_to_root(host):
    for path in ('/opt/hello/hello.py', '/etc/hello/hello.json'):
        assert host.file(path).user == 'root'
        assert not host.file(path).mode & 0o022

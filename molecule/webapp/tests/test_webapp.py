# -*- coding: utf-8 -*-
"""Testinfra checks of the webapp Molecule scenario.

nginx is started the way the web image's command starts it (``nginx -g 'daemon off;'``, stdout and stderr
captured to files), then every endpoint is fetched from inside the instance with python3's urllib.
"""
import json
import re

import pytest

STDOUT = "/tmp/nginx.stdout"
STDERR = "/tmp/nginx.stderr"
PATHS = ("/", "/healthz", "/version", "/no-such-page")

# Fetches each path from nginx, waiting up to 10 s for it to listen; prints {path: {status, type, body}}.
FETCH = r"""
import json, sys, time, urllib.error, urllib.request
port, paths = int(sys.argv[1]), sys.argv[2:]
deadline = time.monotonic() + 10
answers = {}
for path in paths:
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as resp:
                status, ctype, body = resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as err:
            status, ctype, body = err.code, err.headers.get("Content-Type", ""), err.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        break
    answers[path] = {"status": status, "type": ctype, "body": body.decode()}
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def bake(host):
    """The scenario's inventory variables: the bake's extra vars and this instance's role variables."""
    variables = host.ansible.get_variables()
    return {
        "name": variables["image"],
        "version": variables["version"],
        "revision": variables["revision"],
        "built": variables["built"],
        "port": int(variables.get("webapp_port", 8080)),
        "root_status": int(variables.get("webapp_root_status", 200)),
        "user": variables.get("webapp_user", "app"),
    }


@pytest.fixture(scope="module")
def served(host, bake):
    """Starts nginx once per instance as the image's command does, then fetches every endpoint."""
    if host.run("kill -0 \"$(cat /run/nginx.pid)\"").rc != 0:
        host.run_expect([0], "setsid nginx -g 'daemon off;' >%s 2>%s </dev/null &", STDOUT, STDERR)
    fetch = "python3 -c %s %s" + " %s" * len(PATHS)
    return json.loads(host.check_output(fetch, FETCH, str(bake["port"]), *PATHS))


def test_configuration_passes_nginx_config_test(host):
    result = host.run("nginx -t")
    assert result.rc == 0, result.stderr


def test_only_the_role_server_is_configured(host, bake):
    assert not host.file("/etc/nginx/sites-enabled/default").exists
    dump = host.check_output("nginx -T 2>/dev/null")
    listens = re.findall(r"^\s*listen\s+([^;]*);", dump, re.MULTILINE)
    assert listens == ["%d default_server" % bake["port"]]


def test_healthz_answers_ok(served):
    assert served["/healthz"]["status"] == 200
    assert served["/healthz"]["body"] == "ok"


def test_version_reports_the_bake(served, bake):
    answer = served["/version"]
    if bake["root_status"] != 200:
        assert answer["status"] == bake["root_status"]
        return
    assert answer["status"] == 200
    assert answer["type"].startswith("application/json")
    assert json.loads(answer["body"]) == {key: bake[key] for key in ("name", "version", "revision", "built")}


def test_page_shows_image_name_and_version(served, bake):
    answer = served["/"]
    if bake["root_status"] != 200:
        assert answer["status"] == bake["root_status"]
        assert served["/no-such-page"]["status"] == bake["root_status"]
        return
    assert answer["status"] == 200
    assert answer["type"].startswith("text/html")
    assert bake["version"] in answer["body"]
    assert "<h1>%s</h1>" % bake["name"] in answer["body"]
    assert served["/no-such-page"]["status"] == 404


def test_master_runs_as_root_and_workers_as_the_worker_user(host, served, bake, processes_of):
    processes = processes_of(host)
    masters = [uid for cmdline, uid in processes if cmdline.startswith("nginx: master process")]
    workers = [uid for cmdline, uid in processes if cmdline.startswith("nginx: worker process")]
    assert masters == [0]
    assert workers and set(workers) == {host.user(bake["user"]).uid}


def test_access_log_goes_to_stdout_and_error_log_to_stderr(host, served, bake):
    assert '"GET /healthz HTTP/1.1" 200' in host.file(STDOUT).content_string
    if bake["root_status"] == 200:
        # A missing file is logged at level error by the worker that served the 404.
        assert "/no-such-page" in host.file(STDERR).content_string

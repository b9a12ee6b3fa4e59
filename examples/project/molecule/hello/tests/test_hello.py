# -*- coding: utf-8 -*-
"""Testinfra checks of the hello role in its Molecule instance.

The service is started the way the image's entrypoint starts it, as the service user, then /ping and /version are
fetched from inside the instance with python3's urllib.
"""

import json

import pytest

# Starts hello.py as the service user in the background (nohup, output to a file), as the image's entrypoint does.
START = ("nohup setpriv --reuid=app --regid=app --init-groups /usr/bin/python3 /opt/hello/hello.py "
         "--config /etc/hello/hello.json >/tmp/hello.log 2>&1 &")

# Fetches each path, waiting up to 10 s for the service to listen; prints {path: [status, body]}, then the user
# names of the processes running hello.py.
FETCH = r"""
import json, os, pwd, sys, time, urllib.error, urllib.request
port, paths = int(sys.argv[1]), sys.argv[2:]
deadline = time.monotonic() + 10
answers = {}
for path in paths:
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as resp:
                answers[path] = [resp.status, resp.read().decode()]
        except urllib.error.HTTPError as err:
            answers[path] = [err.code, err.read().decode()]
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        break
users = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            if f.read().split(b"\0")[1:2] != [b"/opt/hello/" + b"hello.py"]:
                continue
        users.append(pwd.getpwuid(os.stat("/proc/%s" % pid).st_uid).pw_name)
    except OSError:
        pass
print(json.dumps({"answers": answers, "users": users}))
"""


@pytest.fixture(scope="module")
def bake(host):
    variables = host.ansible.get_variables()
    return {"name": variables["image"], "version": variables["version"],
            "port": int(variables.get("hello_port", 8081))}


@pytest.fixture(scope="module")
def served(host, bake):
    host.run(START)
    return json.loads(host.check_output("python3 -c %s %s /ping /version /nothing", FETCH, str(bake["port"])))


def test_service_user_is_a_nologin_system_user(host):
    user = host.user("app")
    assert user.exists
    assert user.shell == "/usr/sbin/nologin"
    assert user.uid < 1000


def test_application_and_configuration_are_root_owned(host, bake):
    for path in ("/opt/hello/hello.py", "/etc/hello/hello.json"):
        assert host.file(path).user == "root"
        assert host.file(path).mode == 0o644
    config = json.loads(host.file("/etc/hello/hello.json").content_string)
    assert config == {"name": bake["name"], "version": bake["version"], "port": bake["port"]}


def test_ping_answers_ok(served):
    assert served["answers"]["/ping"] == [200, "ok"]


def test_version_is_the_bake_version(served, bake):
    status, body = served["answers"]["/version"]
    assert status == 200
    assert json.loads(body) == {"name": bake["name"], "version": bake["version"]}


def test_unknown_path_is_404(served):
    assert served["answers"]["/nothing"][0] == 404


def test_the_service_runs_as_app(served):
    assert served["users"] == ["app"]

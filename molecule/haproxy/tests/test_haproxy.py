# -*- coding: utf-8 -*-
"""Testinfra checks of the haproxy Molecule scenario.

HAProxy is started the way the lb image's entry point starts it (``immutable-lb-start``, which runs ``haproxy -W
-db -f /etc/haproxy/haproxy.cfg``; stdout and stderr captured to files), then driven through its runtime API the
way the controller drives it: servers are added to the empty backend, enabled, put in maintenance and deleted. A
second HAProxy started with seeded servers and ports of its own shows how a new load balancer starts with its
servers, beside the first one on the same frontend port.
"""
import json
import time

import pytest

CONFIG = "/etc/haproxy/haproxy.cfg"
ENTRYPOINT = "/usr/local/sbin/immutable-lb-start"
SOCKET = "/run/haproxy/admin.sock"
RUNTIME_API = "127.0.0.1:9999"
FRONTEND = "http://127.0.0.1:8080"
STATS = "http://127.0.0.1:8404"
BACKEND = "be_app"
STDOUT = "/tmp/haproxy.stdout"
# Health check settings the controller passes with every `add server` (default-server does not apply).
CHECK = "check inter 500ms fall 2 rise 1"

# Sends each runtime API command on its own connection to a unix socket path or HOST:PORT, waiting up to
# 10 s for the first connection; prints the answers as a JSON list.
CLI = r"""
import json, socket, sys, time
target, commands = sys.argv[1], sys.argv[2:]
deadline = time.monotonic() + 10
answers = []
for command in commands:
    while True:
        try:
            if target.startswith("/"):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(5)
                sock.connect(target)
            else:
                address, port = target.rsplit(":", 1)
                sock = socket.create_connection((address, int(port)), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        break
    with sock:
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    answers.append(b"".join(chunks).decode())
print(json.dumps(answers))
"""

# Fetches one URL; prints {status, body}.
FETCH = r"""
import json, sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
        status, body = resp.status, resp.read()
except urllib.error.HTTPError as err:
    status, body = err.code, err.read()
print(json.dumps({"status": status, "body": body.decode()}))
"""


def cli(host, *commands, target=SOCKET):
    """Runs runtime API commands inside the instance; returns their answers."""
    return json.loads(host.check_output("python3 -c %s %s" + " %s" * len(commands), CLI, target, *commands))


def fetch(host, url):
    return json.loads(host.check_output("python3 -c %s %s", FETCH, url))


def servers(host):
    """The backend's servers from `show servers state`: {name: {"op_state": int, "admin_state": int}}."""
    rows = cli(host, "show servers state %s" % BACKEND)[0].splitlines()
    found = {}
    for row in rows[1:]:  # the first line is the format version
        fields = row.split()
        if fields and not row.startswith("#"):
            found[fields[3]] = {"op_state": int(fields[5]), "admin_state": int(fields[6])}
    return found


def stat(host, server):
    """The CSV statistics row of one server of the backend, as a dict."""
    header, *rows = cli(host, "show stat")[0].lstrip("# ").splitlines()
    names = header.split(",")
    for row in rows:
        values = dict(zip(names, row.split(",")))
        if values["pxname"] == BACKEND and values["svname"] == server:
            return values
    raise AssertionError("no server %s/%s in show stat" % (BACKEND, server))


@pytest.fixture(scope="module")
def haproxy(host):
    """Starts HAProxy once as the image's command does and waits for its runtime API."""
    if host.run("test -S %s", SOCKET).rc != 0:
        host.run_expect([0], "setsid %s >%s 2>&1 </dev/null &", ENTRYPOINT, STDOUT)
    cli(host, "show info")
    return host


@pytest.fixture()
def apps(haproxy):
    """Two HTTP servers inside the instance: 18081 answers /healthz with 200, 18082 with 404."""
    haproxy.run_expect([0], "mkdir -p /tmp/healthy /tmp/sick && echo ok >/tmp/healthy/healthz")
    pids = [
        haproxy.check_output(
            "setsid python3 -m http.server --bind 127.0.0.1 --directory %s %s >/tmp/app-%s.log 2>&1 </dev/null & echo $!",
            root, str(port), str(port),
        )
        for port, root in ((18081, "/tmp/healthy"), (18082, "/tmp/sick"))
    ]
    yield haproxy
    haproxy.run("kill" + " %s" * len(pids), *pids)


def test_configuration_is_valid(host):
    result = host.run("haproxy -c -f %s", CONFIG)
    assert result.rc == 0, result.stderr
    assert "[WARNING]" not in result.stdout + result.stderr


def test_backend_exists_and_is_empty(haproxy):
    assert BACKEND in cli(haproxy, "show backend")[0].splitlines()
    assert servers(haproxy) == {}


def test_server_added_at_run_time_can_be_enabled_and_deleted(haproxy):
    added, health, ready = cli(
        haproxy,
        "add server %s/s1 127.0.0.1:9 %s" % (BACKEND, CHECK),
        "enable health %s/s1" % BACKEND,
        "set server %s/s1 state ready" % BACKEND,
    )
    assert "New server registered" in added
    assert health.strip() == "" and ready.strip() == ""
    assert servers(haproxy)["s1"]["admin_state"] == 0  # ready: not in maintenance

    maint, deleted = cli(haproxy, "set server %s/s1 state maint" % BACKEND, "del server %s/s1" % BACKEND)
    assert maint.strip() == ""
    assert "Server deleted" in deleted
    assert servers(haproxy) == {}


def test_health_check_routes_traffic_to_healthy_servers_only(apps):
    names = {"healthy": 18081, "sick": 18082}
    for name, port in names.items():
        cli(
            apps,
            "add server %s/%s 127.0.0.1:%d %s" % (BACKEND, name, port, CHECK),
            "enable health %s/%s" % (BACKEND, name),
            "set server %s/%s state ready" % (BACKEND, name),
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            healthy, sick = stat(apps, "healthy"), stat(apps, "sick")
            if (healthy["status"], sick["status"]) == ("UP", "DOWN") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert (healthy["status"], healthy["check_status"]) == ("UP", "L7OK")
        assert (sick["status"], sick["check_status"], sick["check_code"]) == ("DOWN", "L7STS", "404")
        assert "GET /healthz" in apps.file("/tmp/app-18081.log").content_string

        for attempt in range(4):
            answer = fetch(apps, FRONTEND + "/healthz")
            assert (answer["status"], answer["body"].strip()) == (200, "ok"), attempt
        assert "%s %s/healthy" % ("fe_main", BACKEND) in apps.file(STDOUT).content_string  # logs on stdout
    finally:
        for name in names:
            cli(apps, "set server %s/%s state maint" % (BACKEND, name), "del server %s/%s" % (BACKEND, name))


def test_tcp_runtime_api_answers_show_info(haproxy):
    info = cli(haproxy, "show info", target=RUNTIME_API)[0]
    assert "Name: HAProxy" in info
    assert "Version: 2.6." in info


def test_stats_page_serves_html_and_csv(haproxy):
    assert fetch(haproxy, STATS + "/stats")["status"] == 200
    csv = fetch(haproxy, STATS + "/stats;csv")
    assert csv["status"] == 200
    assert "fe_main,FRONTEND," in csv["body"]
    assert "%s,BACKEND," % BACKEND in csv["body"]


def test_master_runs_as_root_and_worker_as_haproxy(haproxy, processes_of):
    processes = processes_of(haproxy)
    uids = sorted(uid for cmdline, uid in processes if cmdline.startswith("/usr/sbin/haproxy -W -db -f %s" % CONFIG))
    assert uids == [0, haproxy.user("haproxy").uid]


SEED = "s1 127.0.0.1:18081 100;s2 127.0.0.1:18082 0"
SEED_ENV = "IMMUTABLE_LB_SERVERS='%s' IMMUTABLE_LB_CHECK='%s' IMMUTABLE_LB_API_PORT=19999 IMMUTABLE_LB_STATS_PORT=18404" % (
    SEED, CHECK)


def test_entry_point_seeds_the_servers_it_is_given(host):
    result = host.run("env %s %s -c" % (SEED_ENV, ENTRYPOINT))
    assert result.rc == 0, result.stdout + result.stderr
    seeded = host.file("/run/haproxy/seeded.cfg").content_string
    backend = seeded[seeded.index("backend %s" % BACKEND):]
    assert "    server s1 127.0.0.1:18081 weight 100 %s\n" % CHECK in backend
    assert "    server s2 127.0.0.1:18082 weight 0 %s\n" % CHECK in backend


def test_a_seeded_haproxy_serves_its_servers_from_the_start_beside_the_first_one(haproxy, apps):
    """Its own runtime API and stats ports; the frontend port is shared with the running one (SO_REUSEPORT).
    Last in this file: it takes over the unix socket path of the first one."""
    pid = haproxy.check_output("env %s setsid %s >/tmp/seeded.log 2>&1 </dev/null & echo $!" % (SEED_ENV, ENTRYPOINT))
    try:
        state = cli(haproxy, "show servers state %s" % BACKEND, target="127.0.0.1:19999")[0]
        rows = [row.split() for row in state.splitlines()[1:] if row.strip() and not row.startswith("#")]
        assert sorted((row[3], row[7]) for row in rows) == [("s1", "100"), ("s2", "0")]
        # The first one is untouched (asked on its TCP port: both share this host's unix socket path, which the
        # second one took over; in the image each generation has its own container).
        first = cli(haproxy, "show servers state %s" % BACKEND, target=RUNTIME_API)[0]
        assert [row for row in first.splitlines()[1:] if row.strip() and not row.startswith("#")] == []
        assert "Name: HAProxy" in cli(haproxy, "show info", target="127.0.0.1:19999")[0]
    finally:
        haproxy.run("kill %s", pid)

# -*- coding: utf-8 -*-
"""The collection as another team uses it: built into a tarball, installed with ansible-galaxy into a temporary
collections path, and run by FQCN from a temporary project outside the checkout (its own ansible.cfg, inventory,
image and fleet definitions, and a role ``hello``: a Python HTTP server on 8081 with GET /ping and /version).

From the project only: bake hello (on the built-in base), a rerun is a cache hit, a change of one role file is
refused for the same version and baked as a new one; labels and manifest name the project (its git commit and
remote) and the collection; a fleet of hello behind the built-in lb is rolled out under a probe with no failed
request and shown by status; bad definitions fail before Packer runs, naming the image and the field.
Tests run in file order and share the project and the images.
"""

import glob
import json
import os
import subprocess

import pytest
import yaml

from conftest import BIN, REPOSITORY, ROOT, PlaybookRun, Probe, remove_fleet

FLEET = 'i11hello'
LB_PORT = 18311
REMOTE = 'https://git.example.com/team/hello.git'

SERVER = r'''#!/usr/bin/python3
"""hello: a tiny HTTP application baked by the hello role."""
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = "{{ version }}"
GREETING = "{{ hello_greeting }}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/ping":
            body = {"status": "ok"}
        elif self.path == "/version":
            body = {"version": VERSION, "greeting": GREETING}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("0.0.0.0", 8081), Handler).serve_forever()
'''

IMAGES = {
    'immutable_image_repository': REPOSITORY,
    'immutable_images': {
        'hello': {
            'parent': 'base',
            'roles': ['hello'],
            'vars': {'hello_greeting': 'hi'},
            'container': {'entrypoint': ['/usr/local/bin/hello-server'], 'ports': [8081], 'user': 'app',
                          'env': {'HELLO_MODE': 'production'}, 'workdir': '/', 'stop_signal': 'SIGINT',
                          'labels': {'team': 'hello-team'}},
        },
    },
}

FLEETS = {
    'immutable_fleets': {
        FLEET: {
            'image': 'hello', 'version': '1.0.0', 'instances': 2, 'service_port': 8081,
            'health': {'path': '/ping', 'status': 200, 'interval': 1, 'healthy_threshold': 2, 'timeout': 2,
                       'start_period': 10},
            'listen': '127.0.0.1:%d' % LB_PORT, 'lb_image': 'lb', 'lb_version': '1.0.0', 'strategy': 'rolling',
            'rolling': {'max_surge': 1, 'max_unavailable': 0}, 'drain_timeout': 2, 'monitor': 1, 'stop_timeout': 5,
        },
    },
}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


def git(project, *args):
    return subprocess.run(['git', '-C', project, '-c', 'user.email=team@example.com', '-c', 'user.name=team']
                          + list(args), check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope='module')
def project(tmp_path_factory, engine):
    """Build and install the collection, lay out the project (a git repository with a remote)."""
    base = str(tmp_path_factory.mktemp('own-images'))
    assert not base.startswith(ROOT)
    galaxy = os.path.join(BIN, 'ansible-galaxy')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1')
    # make exports the checkout's collections folder on PYTHONPATH: ansible-galaxy (which scans sys.path) would
    # take the checkout for an installed immutable.infra and install nothing.
    for name in ('ANSIBLE_CONFIG', 'PYTHONPATH', 'ANSIBLE_COLLECTIONS_PATH'):
        env.pop(name, None)
    dist = os.path.join(base, 'dist')
    subprocess.run([galaxy, 'collection', 'build', '--output-path', dist, ROOT], check=True, capture_output=True,
                   env=env, cwd=base)
    tarball = glob.glob(os.path.join(dist, 'immutable-infra-*.tar.gz'))[0]
    proj = os.path.join(base, 'project')
    os.makedirs(proj)
    subprocess.run([galaxy, 'collection', 'install', '--no-deps', tarball, '-p', 'collections'], check=True,
                   capture_output=True, env=env, cwd=proj)
    installed = os.path.join(proj, 'collections', 'ansible_collections', 'immutable', 'infra')
    assert os.path.isfile(os.path.join(installed, 'packer', 'image.pkr.hcl'))
    for developer_file in ('.state', '.venv', '.pytest_cache', '.git'):
        assert not os.path.exists(os.path.join(installed, developer_file)), developer_file
    assert not glob.glob(os.path.join(installed, '**', '*.pyc'), recursive=True)

    write(os.path.join(proj, 'ansible.cfg'),
          '[defaults]\ncollections_path = collections\nroles_path = roles\ninventory = inventory/hosts.yml\n'
          'interpreter_python = auto_silent\n')
    write(os.path.join(proj, 'inventory', 'hosts.yml'),
          'all:\n  hosts:\n    localhost:\n      ansible_connection: local\n'
          '      ansible_python_interpreter: "{{ ansible_playbook_python }}"\n')
    write(os.path.join(proj, 'inventory', 'group_vars', 'all', 'images.yml'), '---\n' + yaml.safe_dump(IMAGES))
    write(os.path.join(proj, 'inventory', 'group_vars', 'all', 'fleets.yml'), '---\n' + yaml.safe_dump(FLEETS))
    role = os.path.join(proj, 'roles', 'hello')
    write(os.path.join(role, 'meta', 'main.yml'), '---\ndependencies:\n  - role: immutable.infra.bake_guard\n')
    write(os.path.join(role, 'defaults', 'main.yml'), '---\nhello_greeting: hello\n')
    write(os.path.join(role, 'templates', 'hello-server.j2'), SERVER)
    write(os.path.join(role, 'tasks', 'main.yml'),
          '---\n- name: Install the hello server\n  ansible.builtin.template:\n    src: hello-server.j2\n'
          '    dest: /usr/local/bin/hello-server\n    mode: "0755"\n')
    subprocess.run(['git', 'init', '-q', proj], check=True)
    git(proj, 'remote', 'add', 'origin', REMOTE)
    git(proj, 'add', '-A', '--', 'ansible.cfg', 'inventory', 'roles')
    git(proj, 'commit', '-qm', 'hello project')
    remove_fleet(engine, FLEET)
    yield {'dir': proj, 'installed': installed, 'role': role}
    remove_fleet(engine, FLEET)


def play(project, playbook, **extra):
    """ansible-playbook -i inventory immutable.infra.PLAYBOOK from the project directory, JSON callback."""
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1', PWD=project['dir'],
               PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    for name in ('ANSIBLE_CONFIG', 'PYTHONPATH', 'ANSIBLE_COLLECTIONS_PATH', 'ANSIBLE_ROLES_PATH'):
        env.pop(name, None)
    cmd = [os.path.join(BIN, 'ansible-playbook'), '-i', 'inventory', 'immutable.infra.%s' % playbook]
    for key, value in extra.items():
        cmd += ['-e', json.dumps({key: value})]
    completed = subprocess.run(cmd, cwd=project['dir'], env=env, capture_output=True, text=True, timeout=900,
                               check=False)
    return PlaybookRun(completed)


def packer_logs(project):
    return set(glob.glob(os.path.join(project['dir'], '.immutable', 'bakes', '*.packer.log')))


def labels_of(engine, ref):
    return engine.images.get(ref).attrs['Config']['Labels']


def test_bake_the_projects_image_by_fqcn(engine, project):
    run = play(project, 'bake', image='hello', version='1.0.0')
    assert run.rc == 0, run.output[-4000:]
    image = engine.images.get('%s/hello:1.0.0' % REPOSITORY)
    assert '%s/hello:verified-1.0.0' % REPOSITORY in image.tags
    config = image.attrs['Config']
    assert config['Entrypoint'] == ['/usr/local/bin/hello-server']
    assert config['Cmd'] in ([], None)
    assert '8081/tcp' in config['ExposedPorts']
    assert config['User'] == 'app'
    assert 'HELLO_MODE=production' in config['Env']
    labels = config['Labels']
    assert labels['org.opencontainers.image.title'] == 'hello'
    assert labels['org.opencontainers.image.revision'] == git(project['dir'], 'rev-parse', 'HEAD')
    assert labels['org.opencontainers.image.source'] == REMOTE
    assert labels['team'] == 'hello-team'
    assert labels['io.immutable-infra.stop-signal'] == 'SIGINT'
    assert labels['io.immutable-infra.parent'] == engine.images.get('%s/base:verified-1.0.0' % REPOSITORY).id
    out = engine.containers.run(image.id, entrypoint=['cat'], command=['/etc/immutable-infra/manifest.json'],
                                remove=True, labels={'io.immutable-infra.test': 'bake'})
    manifest = json.loads(out)
    assert manifest['roles'] == ['hello', 'image_seal']
    assert manifest['source'] == REMOTE
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        assert manifest['collection_version'] == yaml.safe_load(handle)['version']
    # State in the project, nothing in the installed collection.
    assert packer_logs(project)
    assert os.path.isdir(os.path.join(project['dir'], '.immutable', 'apt-cache'))
    for state in ('.state', '.immutable'):
        assert not os.path.exists(os.path.join(project['installed'], state))


def test_a_rerun_is_a_cache_hit(project):
    run = play(project, 'bake', image='hello', version='1.0.0')
    assert run.rc == 0, run.output[-3000:]
    assert run.changed == 0
    assert 'cache hit' in run.messages()


def test_a_changed_role_file_is_refused_for_the_same_version_and_baked_as_a_new_one(engine, project):
    before = labels_of(engine, '%s/hello:1.0.0' % REPOSITORY)['io.immutable-infra.bake-key']
    defaults = os.path.join(project['role'], 'defaults', 'main.yml')
    write(defaults, '---\n# the greeting of hello\nhello_greeting: hello\n')
    git(project['dir'], 'commit', '-qam', 'document the greeting')
    logs = packer_logs(project)
    run = play(project, 'bake', image='hello', version='1.0.0')
    assert run.rc != 0
    assert 'never reused' in run.messages()
    assert packer_logs(project) == logs
    run = play(project, 'bake', image='hello', version='1.0.1')
    assert run.rc == 0, run.output[-4000:]
    labels = labels_of(engine, '%s/hello:verified-1.0.1' % REPOSITORY)
    assert labels['io.immutable-infra.bake-key'] != before
    assert labels['org.opencontainers.image.revision'] == git(project['dir'], 'rev-parse', 'HEAD')


def test_a_fleet_of_the_image_rolls_out_under_a_probe_and_shows_in_status(engine, project):
    run = play(project, 'bake', image='lb', version='1.0.0')
    assert run.rc == 0, run.output[-4000:]
    run = play(project, 'rollout', fleet=FLEET, version='1.0.0')
    assert run.rc == 0, run.output[-4000:]
    with Probe(LB_PORT, path='/version', max_seconds=120) as probe:
        run = play(project, 'rollout', fleet=FLEET, version='1.0.1')
    assert run.rc == 0, run.output[-4000:]
    assert probe.requests > 20, probe
    assert probe.failures == 0, probe
    assert probe.last_version == '1.0.1', probe
    status = play(project, 'status', fleet=FLEET)
    assert status.rc == 0, status.output[-3000:]
    assert FLEET in status.messages() and '1.0.1' in status.messages()
    # The image's stop signal (a label: docker commit takes no STOPSIGNAL) is the instances' own.
    signals = [c.attrs['Config'].get('StopSignal') for c in engine.containers.list(
        filters={'label': ['io.immutable-infra.fleet=%s' % FLEET, 'io.immutable-infra.role=instance']})]
    assert signals and set(signals) == {'SIGINT'}, signals


@pytest.mark.parametrize('definition, field', [
    ({'parent': 'base', 'roles': ['hello'], 'colour': 'blue'}, 'colour'),
    ({'parent': 'base', 'roles': ['hello', 'no_such_role']}, 'roles'),
    ({'parent': 'nowhere', 'roles': ['hello']}, 'parent'),
    ({'parent': 'base', 'roles': ['hello'], 'container': {'ports': [80800]}}, 'container.ports'),
])
def test_a_bad_definition_fails_before_packer_naming_image_and_field(project, definition, field):
    logs = packer_logs(project)
    run = play(project, 'bake', image='bad', version='1.0.0', immutable_images={'bad': definition})
    assert run.rc != 0
    assert 'image bad, field %s:' % field in run.messages(), run.output[-3000:]
    assert packer_logs(project) == logs

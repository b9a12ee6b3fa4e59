# -*- coding: utf-8 -*-
"""Bake for real: labels, manifest, seal, cache hit, the refused version reuse, the failed-test path, the
guard, bad input and an interrupted bake. Tests run in file order and share the images they bake."""

import glob
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, REPOSITORY, ROOT, run_playbook

WEB = {'image': 'web', 'version': '1.0.0', 'image_repository': REPOSITORY}


def labels_of(engine, ref):
    return engine.images.get(ref).attrs['Config']['Labels']


@pytest.fixture(scope='module')
def web_bake():
    run = run_playbook('bake.yml', WEB)
    assert run.rc == 0, run.output[-4000:]
    return run


def test_bake_produces_a_verified_labelled_image_on_a_verified_base(engine, web_bake):
    web = engine.images.get('%s/web:1.0.0' % REPOSITORY)
    assert '%s/web:verified-1.0.0' % REPOSITORY in web.tags
    labels = web.attrs['Config']['Labels']
    assert labels['org.opencontainers.image.title'] == 'web'
    assert labels['org.opencontainers.image.version'] == '1.0.0'
    assert len(labels['io.immutable-infra.bake-key']) == 64
    base = engine.images.get('%s/base:verified-1.0.0' % REPOSITORY)
    assert labels['io.immutable-infra.parent'] == base.id
    assert web.attrs['Config']['Entrypoint'] == ['/usr/sbin/nginx']
    assert '8080/tcp' in web.attrs['Config']['ExposedPorts']
    assert os.path.isfile(os.path.join(ROOT, '.state', 'bakes', 'packer-manifest.json'))
    assert '.packer.log' in web_bake.output


def test_manifest_inside_the_image_records_provenance(engine, web_bake):
    out = engine.containers.run('%s/web:1.0.0' % REPOSITORY, entrypoint=['cat'],
                                command=['/etc/immutable-infra/manifest.json'], remove=True,
                                labels={'io.immutable-infra.test': 'bake'})
    manifest = json.loads(out)
    labels = labels_of(engine, '%s/web:1.0.0' % REPOSITORY)
    assert manifest['version'] == '1.0.0'
    assert manifest['bake_key'] == labels['io.immutable-infra.bake-key']
    assert manifest['roles'] == ['webapp', 'image_seal']
    assert 'nginx-light' in manifest['packages'] or 'nginx' in manifest['packages']


def test_apt_cache_serves_the_bakes_and_stays_out_of_the_image(engine, web_bake):
    cache = os.path.join(ROOT, '.state', 'apt-cache')
    assert glob.glob(os.path.join(cache, 'lists', '*_Packages*')), 'the bake left no package lists in %s' % cache
    assert glob.glob(os.path.join(cache, 'archives', 'nginx*.deb')), 'nginx was not downloaded into %s' % cache
    out = engine.containers.run('%s/web:1.0.0' % REPOSITORY, entrypoint=['find'],
                                command=['/var/lib/apt/lists', '/var/cache/apt', '-type', 'f'], remove=True,
                                labels={'io.immutable-infra.test': 'bake'})
    assert out.decode().split() == []


def test_second_bake_is_a_cache_hit(web_bake):
    started = time.monotonic()
    run = run_playbook('bake.yml', WEB)
    assert run.rc == 0, run.output[-3000:]
    assert run.changed == 0
    assert 'cache hit' in run.messages()
    print('cache hit took %.1f s' % (time.monotonic() - started))


def test_version_reuse_with_other_content_is_refused(engine, web_bake):
    before = engine.images.get('%s/web:1.0.0' % REPOSITORY).id
    run = run_playbook('bake.yml', dict(WEB, bake_vars={'webapp_port': 8081}))
    assert run.rc != 0
    assert 'never reused' in run.messages()
    assert engine.images.get('%s/web:1.0.0' % REPOSITORY).id == before


def test_image_failing_its_tests_is_not_left_usable(engine, web_bake):
    run = run_playbook('bake.yml', dict(WEB, version='1.0.1-broken', bake_vars={'webapp_healthz_status': 503}))
    assert run.rc != 0
    assert 'image tests' in run.messages()
    tags = [t for i in engine.images.list(name='%s/web' % REPOSITORY) for t in i.tags]
    assert '%s/web:failed-1.0.1-broken' % REPOSITORY in tags
    assert '%s/web:1.0.1-broken' % REPOSITORY not in tags
    assert '%s/web:verified-1.0.1-broken' % REPOSITORY not in tags


@pytest.mark.parametrize('extra, expected', [
    ({'image': 'web'}, 'version is missing'),
    ({'image': 'web', 'version': '1.2'}, 'not a valid semantic version'),
    ({'image': 'nope', 'version': '1.0.0'}, 'Images with a template'),
    ({'version': '1.0.0'}, 'image is missing'),
])
def test_bad_input_fails_before_packer_with_what_to_pass(extra, expected):
    logs_before = set(glob.glob(os.path.join(ROOT, '.state', 'bakes', '*.log')))
    run = run_playbook('bake.yml', dict(extra, image_repository=REPOSITORY))
    assert run.rc != 0
    assert expected in run.messages()
    assert '-e image=NAME -e version=X.Y.Z' in run.messages()
    assert set(glob.glob(os.path.join(ROOT, '.state', 'bakes', '*.log'))) == logs_before


def test_guard_refuses_a_running_instance_and_changes_nothing(engine, web_bake, tmp_path):
    container = engine.containers.run('%s/web:1.0.0' % REPOSITORY, detach=True, name='itest-guard',
                                      labels={'io.immutable-infra.test': 'guard'})
    try:
        time.sleep(1)
        before = container.diff()
        inventory = tmp_path / 'hosts.yml'
        inventory.write_text(
            'all:\n  hosts:\n    itest-guard:\n      ansible_connection: community.docker.docker\n'
            '      ansible_python_interpreter: /usr/bin/python3\n')
        run = subprocess.run(
            [os.path.join(BIN, 'ansible-playbook'), '-i', str(inventory), 'playbooks/provision.yml',
             '-e', 'image=web', '-e', 'packer_build_name=web'],
            cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
            env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'), ANSIBLE_NOCOLOR='1'))
        assert run.returncode != 0
        assert 'sealed-image marker' in run.stdout
        assert container.diff() == before
    finally:
        container.remove(force=True)


def test_interrupted_bake_leaves_nothing_usable_and_the_next_bake_recovers(engine, web_bake):
    """Kill Packer while the lb build container runs; the next bake cleans up and succeeds."""
    cmd = [os.path.join(BIN, 'ansible-playbook'), 'playbooks/bake.yml', '-e', 'image=lb', '-e', 'version=1.0.0',
           '-e', 'image_repository=%s' % REPOSITORY]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               PATH=BIN + os.pathsep + os.environ['PATH'])
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and not engine.containers.list(
                filters={'label': 'io.immutable-infra.bake=%s/lb' % REPOSITORY}):
            assert proc.poll() is None, 'the bake ended before its build container appeared'
            time.sleep(0.5)
        time.sleep(3)
    finally:
        # The controller and Packer die together, as when a CI job or AWX node is killed.
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    tags = [t for i in engine.images.list(name='%s/lb' % REPOSITORY) for t in i.tags]
    assert '%s/lb:verified-1.0.0' % REPOSITORY not in tags

    run = run_playbook('bake.yml', {'image': 'lb', 'version': '1.0.0', 'image_repository': REPOSITORY})
    assert run.rc == 0, run.output[-3000:]
    assert engine.containers.list(all=True, filters={'label': 'io.immutable-infra.bake=%s/lb' % REPOSITORY}) == []
    lb = engine.images.get('%s/lb:1.0.0' % REPOSITORY)
    assert '%s/lb:verified-1.0.0' % REPOSITORY in lb.tags

# -*- coding: utf-8 -*-
"""execution-environment.yml: ``ansible-builder create`` (offline, no registry) and the build context it writes.

The collection is built into a temporary .state/dist next to a copy of the EE definition, so the test neither
reads nor writes the checkout's .state.
"""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.path.dirname(sys.executable)
EE_FILE = os.path.join(ROOT, 'execution-environment.yml')


def _galaxy_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle)['version']


def _pins():
    """{name: 'name==version'} of requirements.txt (the exact pins of the developer's venv)."""
    pins = {}
    with open(os.path.join(ROOT, 'requirements.txt')) as handle:
        for line in handle:
            if '==' in line and not line.startswith('#'):
                pins[line.split('==')[0].strip().lower()] = line.strip()
    return pins


@pytest.fixture(scope='module')
def definition():
    with open(EE_FILE) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def context(tmp_path_factory):
    """The build context: {'dir', 'containerfile', 'requirements.yml', 'requirements.txt', 'bindep.txt'}."""
    if not os.path.exists(os.path.join(BIN, 'ansible-builder')):
        pytest.fail('ansible-builder is not installed in the venv: make setup (requirements.txt pins it)')
    work = tmp_path_factory.mktemp('ee')
    shutil.copy(EE_FILE, str(work / 'execution-environment.yml'))
    dist = work / '.state' / 'dist'
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(dist), ROOT],
                   check=True, capture_output=True, text=True)
    out = work / 'context'
    run = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '--file', 'execution-environment.yml',
                          '--context', str(out), '--output-filename', 'Containerfile'],
                         cwd=str(work), capture_output=True, text=True, check=False,
                         env=dict(os.environ, PATH=BIN + os.pathsep + os.environ.get('PATH', '')))
    assert run.returncode == 0, run.stdout + run.stderr
    found = {'dir': out}
    with open(str(out / 'Containerfile')) as handle:
        found['containerfile'] = handle.read()
    for name in ('requirements.yml', 'requirements.txt', 'bindep.txt'):
        with open(str(out / '_build' / name)) as handle:
            found[name] = handle.read()
    return found


def test_schema_version_3_and_a_documented_placeholder_base_image(definition):
    assert definition['version'] == 3
    assert definition['images']['base_image']['name'].startswith('registry.example.com/')
    with open(EE_FILE) as handle:
        assert 'PLACEHOLDER' in handle.read()


def test_the_collection_tarball_is_in_the_context(context):
    assert sorted(os.listdir(str(context['dir'] / '_build' / 'collections'))) == [
        'immutable-infra-%s.tar.gz' % _galaxy_version()]


def test_the_containerfile_installs_the_collection_from_the_tarball(context):
    text = context['containerfile']
    assert 'COPY _build/collections/ /tmp/immutable-infra/' in text
    assert 'mv immutable-infra-*.tar.gz immutable-infra.tar.gz' in text
    install = text.index('ansible-galaxy collection install')
    assert text.index('COPY _build/collections/') < install
    assert '-r requirements.yml --collections-path "/usr/share/ansible/collections"' in text[install:]
    assert 'ARG EE_BASE_IMAGE="registry.example.com/' in text
    assert 'ansible-core==2.19.14' in text and 'ansible-runner==' in text


def test_galaxy_requirements_are_the_collection_and_its_dependencies(context):
    requirements = yaml.safe_load(context['requirements.yml'])['collections']
    names = [entry['name'] for entry in requirements]
    assert {'name': '/tmp/immutable-infra/immutable-infra.tar.gz', 'type': 'file'} in requirements
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        dependencies = yaml.safe_load(handle)['dependencies']
    for collection, version in dependencies.items():
        assert collection in names
        assert next(e for e in requirements if e['name'] == collection)['version'] == version


def test_python_requirements_are_what_the_collection_runs_pinned_as_in_requirements_txt(context):
    lines = [line.strip() for line in context['requirements.txt'].splitlines() if line.strip()]
    pins = _pins()
    for package in ('docker', 'requests', 'pytest', 'pytest-testinfra'):
        assert pins[package] in lines
    assert all(re.fullmatch(r'[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9_.+-]*', line) for line in lines), lines


def test_system_requirements_are_packer_and_the_docker_cli_from_debian(context):
    packages = dict(line.split(None, 1) for line in context['bindep.txt'].splitlines() if line.strip())
    assert packages['packer'] == '[platform:dpkg]'
    assert packages['docker.io'] == '[platform:dpkg]'
    assert 'git' in packages

# -*- coding: utf-8 -*-
"""Modules, lookups and inventory plugins get their provider from the registry (``module_utils/provider/registry.py``,
option ``provider``): none of them imports the Docker SDK, the Docker provider or its image store and client
factory directly (issue 12). An AST scan of every file in those folders."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FOLDERS = ('plugins/modules', 'plugins/lookup', 'plugins/inventory')
# Names that belong to one engine: only the registry hands them out.
ENGINE_NAMES = {'DockerProvider', 'DockerConnection', 'DockerImageStore', 'docker_client'}


def _engine_module(name):
    """True for the Docker SDK and the Docker provider module, however they are spelled."""
    name = name or ''
    return name == 'docker' or name.startswith('docker.') or name.endswith('provider.docker') or \
        '.provider.docker.' in name


def forbidden_imports(source, filename='<source>'):
    """``[(line, what)]`` for every import in ``source`` that reaches an engine directly."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, 'import %s' % a.name) for a in node.names if _engine_module(a.name))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ''
            if _engine_module(module):
                found.append((node.lineno, 'from %s import ...' % module))
                continue
            for alias in node.names:
                if alias.name in ENGINE_NAMES or (module.endswith('provider') and alias.name == 'docker'):
                    found.append((node.lineno, 'from %s%s import %s' % ('.' * node.level, module, alias.name)))
    return found


def plugin_files():
    for folder in FOLDERS:
        for name in sorted(os.listdir(os.path.join(ROOT, folder))):
            if name.endswith('.py') and name != '__init__.py':
                yield os.path.join(folder, name)


def test_the_scan_sees_every_way_of_reaching_the_engine():
    source = '\n'.join([
        'import docker',
        'import docker.errors as errors',
        'from docker.errors import APIError',
        'from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerProvider',
        'from ansible_collections.immutable.infra.plugins.module_utils.provider import docker',
        'from ..module_utils.provider import docker as d',
        'from ansible_collections.immutable.infra.plugins.module_utils.images import DockerImageStore, docker_client',
        'def f():',
        '    from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerConnection',
        'from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_provider',
        'from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError',
        'import dockerfile_parse',
    ])
    assert [line for line, what in forbidden_imports(source)] == [1, 2, 3, 4, 5, 6, 7, 7, 9]


def test_there_are_plugins_to_scan():
    files = list(plugin_files())
    assert 'plugins/modules/fleet_rollout.py' in files and 'plugins/lookup/image.py' in files
    assert 'plugins/inventory/fleet.py' in files


@pytest.mark.parametrize('path', list(plugin_files()))
def test_no_plugin_imports_an_engine_directly(path):
    with open(os.path.join(ROOT, path)) as handle:
        found = forbidden_imports(handle.read(), path)
    assert found == [], '%s reaches the engine directly (use provider.registry): %s' % (
        path, ', '.join('line %d: %s' % f for f in found))

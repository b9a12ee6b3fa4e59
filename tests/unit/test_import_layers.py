# -*- coding: utf-8 -*-
"""What each layer of plugins/ may import (docs/architecture.md, "Layers and imports"), read from the source.

- Target side: the module_utils that run inside a bake (on the build container's Python, with nothing but the
  standard library) import only the standard library and each other; the modules that run them there import
  only those, ``ansible.module_utils.basic`` and the standard library.
- The Docker SDK is imported only by the Docker provider and the Docker image store.
- HAProxy's runtime API client is imported only by the provider package (behind the traffic port) and by the
  modules' shared error handling.
"""

import ast
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UTILS = os.path.join(ROOT, 'plugins', 'module_utils')
PREFIX = 'ansible_collections.immutable.infra.plugins.module_utils.'

TARGET_UTILS = ('image_clean', 'image_files', 'image_manifest', 'secret_scan', 'semver')
TARGET_MODULES = ('image_clean', 'image_files', 'image_manifest', 'secret_scan')
DOCKER_SDK_USERS = ('provider/docker.py', 'images.py')
HAPROXY_USERS = ('provider/docker.py', 'provider/haproxy_traffic.py', 'fleet_module.py', 'haproxy.py')


def imports(path):
    """Every module name ``path`` imports (``from X import y`` gives X and X.y), module-level or not."""
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update('%s.%s' % (node.module, alias.name) for alias in node.names)
    return names


def is_stdlib(name):
    return name.split('.')[0] in sys.stdlib_module_names or name == '__future__'


def python_files(folder):
    for base, dummy, files in os.walk(folder):
        for name in sorted(files):
            if name.endswith('.py'):
                yield os.path.relpath(os.path.join(base, name), folder).replace(os.sep, '/')


def target_or_stdlib(name):
    """A standard library module, or a target-side module_util (or a name imported from one)."""
    if is_stdlib(name):
        return True
    if name.startswith(PREFIX):
        return name[len(PREFIX):].split('.')[0] in TARGET_UTILS
    return name == 'ansible_collections.immutable.infra.plugins.module_utils'


@pytest.mark.parametrize('name', TARGET_UTILS)
def test_target_side_module_utils_import_only_the_standard_library_and_each_other(name):
    bad = sorted(n for n in imports(os.path.join(UTILS, name + '.py')) if not target_or_stdlib(n))
    assert not bad, 'module_utils/%s.py runs inside a bake and may not import %s' % (name, ', '.join(bad))


@pytest.mark.parametrize('name', TARGET_MODULES)
def test_modules_that_run_inside_a_bake_import_only_target_side_code(name):
    path = os.path.join(ROOT, 'plugins', 'modules', name + '.py')
    allowed = ('ansible.module_utils.basic', 'ansible.module_utils.basic.AnsibleModule')
    bad = sorted(n for n in imports(path) if not (target_or_stdlib(n) or n in allowed))
    assert not bad, 'modules/%s.py runs inside a bake and may not import %s' % (name, ', '.join(bad))


def test_only_the_docker_provider_and_the_docker_image_store_import_the_docker_sdk():
    users = sorted(f for f in python_files(UTILS)
                   if any(n == 'docker' or n.startswith('docker.') for n in imports(os.path.join(UTILS, f))))
    assert users == sorted(DOCKER_SDK_USERS)


def test_only_the_provider_package_and_the_modules_error_handling_import_the_haproxy_client():
    users = sorted(f for f in python_files(UTILS)
                   if any(n.startswith(PREFIX + 'haproxy') for n in imports(os.path.join(UTILS, f))))
    assert set(users) <= set(HAPROXY_USERS), users


def test_the_rule_sees_an_import_that_breaks_it(tmp_path):
    # The scan itself: a target-side file that imported the docker SDK or the fleet code would be caught.
    path = tmp_path / 'sample.py'
    path.write_text('import os\nfrom docker import errors\nfrom %sfleet import FleetError\n' % PREFIX)
    bad = sorted(n for n in imports(str(path)) if not target_or_stdlib(n))
    assert bad == sorted(['docker', 'docker.errors', PREFIX + 'fleet', PREFIX + 'fleet.FleetError'])

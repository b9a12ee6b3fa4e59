# -*- coding: utf-8 -*-
"""Checks every sealed image must pass; test_<image>.py files import them so each image runs them."""

import json
import os
import shlex

from ansible_collections.immutable.infra.plugins.module_utils.image_manifest import validate_manifest
from ansible_collections.immutable.infra.plugins.module_utils.secret_scan import findings_message

MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            'plugins', 'module_utils')


def run_module_utils(host, filename, call):
    """Run a standard-library-only module_utils file inside the container and return ``call``'s JSON result."""
    with open(os.path.join(MODULE_UTILS, filename)) as handle:
        source = handle.read()
    program = source + '\nimport json as _json\nprint(_json.dumps(%s))\n' % call
    result = host.run('python3 -c %s' % shlex.quote(program))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def test_manifest_is_present_and_valid(manifest, labels):
    assert validate_manifest(manifest) == []
    assert manifest['name'] == labels['io.immutable-infra.name']
    assert manifest['version'] == labels['io.immutable-infra.version']
    assert manifest['bake_key'] == labels['io.immutable-infra.bake-key']
    assert manifest['parent_image'] == labels['io.immutable-infra.parent']
    assert manifest['roles'][-1] == 'image_seal'


def test_manifest_checksums_match_the_files(host, manifest):
    assert manifest['files'], 'the roles declared no managed files'
    for path, digest in manifest['files'].items():
        assert host.file(path).sha256sum == digest, path


def test_labels_carry_provenance(labels):
    for key in ('org.opencontainers.image.title', 'org.opencontainers.image.version',
                'org.opencontainers.image.revision', 'org.opencontainers.image.created',
                'org.opencontainers.image.source', 'io.immutable-infra.bake-key', 'io.immutable-infra.parent'):
        assert labels.get(key), key


def test_no_ssh_host_keys(host):
    assert host.run('ls /etc/ssh/ssh_host_* 2>/dev/null').stdout.strip() == ''


def test_machine_id_is_empty(host):
    assert host.file('/etc/machine-id').size == 0


def test_apt_lists_and_caches_are_empty(host):
    assert host.run('find /var/lib/apt/lists -type f ! -name lock ! -path "*/partial/*"').stdout.strip() == ''
    assert host.run('find /var/cache/apt -name "*.bin"').stdout.strip() == ''


def test_no_shell_history_or_ansible_leftovers(host):
    for path in ('/root/.bash_history', '/root/.ansible'):
        assert not host.file(path).exists, path


def test_no_secrets(host):
    # The seal's scan again, on the committed image: every byte of every file (UTF-16, gzip and base64 decoded),
    # files it cannot read fully failing like secrets; only mount points the image does not hold are skipped.
    result = run_module_utils(host, 'secret_scan.py', 'scan()')
    assert result['findings'] == [], findings_message(result['findings'])
    assert result['scanned_files'] > 1000 and result['skipped_files'] == 0

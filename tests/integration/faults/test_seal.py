# -*- coding: utf-8 -*-
"""Fault: a secret in a verified image (issue 10, item 1).

A role variable that put one NUL byte into a rendered file made the secret scan take the file for binary and
skip it, so an OpenSSH private key and an AWS key pair in /etc/nginx/nginx.conf went through the seal and the
image tests, and the image was tagged verified. Here real bakes of the ``web`` image (on one cached ``base``) put
secrets into that file through the webapp role variable ``webapp_worker_processes`` (``type: raw``, rendered
into ``worker_processes ...;`` of nginx.conf, so a value ``2;\\n# ...\\nworker_rlimit_nofile 1024`` adds
comment lines that ``nginx -t`` accepts), each form in a bake of its own: behind a NUL byte, in UTF-16, and gzip-compressed. Each bake must fail
in the seal's secret scan, naming the file and the rule, and tag nothing verified.

No webapp variable writes arbitrary bytes. Its files are written by immutable.infra.image_files, as UTF-8 text:
NUL and NUL-interleaved ASCII (UTF-16 text) are valid UTF-8 and get through, but the gzip magic (1f 8b) never
occurs in UTF-8. A value that decodes to such bytes inside the bake (a Jinja ``b64decode`` evaluated there) does
reach the file, but the controller then refuses the module's reply (it echoes its arguments, and ansible-core
takes only UTF-8 from a module), so that bake fails in the webapp role already, before anything is committed.
The gzip stream therefore goes in as base64, the way binary data gets into text files (``H4sI...``): the scan
decodes the blob, inflates the gzip stream in it and finds the key and the key pair there. Raw gzip files and
streams are covered by the unit tests (tests/unit/plugins/module_utils/test_secret_scan.py).

Run it alone, in a test repository of its own:
    IMMUTABLE_ITEST_REPOSITORY=itest-seal .venv/bin/pytest tests/integration/faults/test_seal.py
"""

import base64
import gzip
import io
import json
import re

import pytest

from conftest import REPOSITORY, run_playbook

# Fake secrets, assembled from parts so that this file is not itself a secret for scanners (ours, GitHub's).
PEM_BEGIN = '-----BEGIN OPENSSH ' + 'PRIVATE KEY-----'
PEM_END = '-----END OPENSSH ' + 'PRIVATE KEY-----'
PRIVATE_KEY = (PEM_BEGIN + '\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n' + PEM_END + '\n')
AWS_KEY_ID = 'AK' + 'IA' + 'Q3EGRIJ7NDXZ5TBO'
AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYzq3Xk9pLm2'
AWS_PAIR = 'aws_access_key_id = ' + AWS_KEY_ID + '\naws_secret_access_key = ' + AWS_SECRET + '\n'
SECRETS = PRIVATE_KEY + AWS_PAIR
RULES = ['aws_access_key_id', 'aws_secret_access_key', 'private_key']
CONF = '/etc/nginx/nginx.conf'


def comments(text):
    """``text`` as nginx comment lines."""
    return ''.join('# %s\n' % line for line in text.splitlines())


def directive(comment_lines):
    """A webapp_worker_processes value that adds comment lines to nginx.conf; the template appends ';'."""
    return '2;\n' + comment_lines + 'worker_rlimit_nofile 1024'


def nul_value():
    # One NUL byte on the first comment line, then the key and the key pair in plain text.
    return directive(comments('\x00\n' + SECRETS))


def utf16_value():
    # UTF-16 (little endian): every ASCII character followed by a NUL. A line break would end the comment, so
    # each line of the secrets is a comment of its own.
    return directive(''.join('# %s\n' % ''.join(char + '\x00' for char in line) for line in SECRETS.splitlines()))


def gzip_value():
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode='wb', mtime=0) as handle:
        handle.write(SECRETS.encode())
    return directive('# %s\n' % base64.b64encode(buffer.getvalue()).decode())


def bake_web(version, bake_vars=None):
    extra = {'image': 'web', 'version': version, 'image_repository': REPOSITORY}
    if bake_vars is not None:
        extra['bake_vars'] = bake_vars
    return run_playbook('bake.yml', extra)


def tags_of(engine):
    return sorted(tag for image in engine.images.list(name='%s/web' % REPOSITORY) for tag in image.tags)


def bake_results(run):
    """Task name and host result of each task of the failed bake's Ansible run, from the Packer log of web.

    The tests run playbooks with the JSON callback, which Packer passes on to the bake's Ansible: the log holds
    its JSON document, each line behind Packer's prefix.
    """
    logs = re.findall(r'full log:\s*(\S+?web-\S+?\.packer\.log)', run.messages())
    assert logs, run.output[-3000:]
    with open(logs[-1]) as handle:
        lines = [line.split(': ', 1)[1] if ': ' in line else '' for line in handle.read().splitlines()
                 if line.startswith('    docker.')]
    start = lines.index('{')
    end = len(lines) - lines[::-1].index('}')
    document = json.loads('\n'.join(lines[start:end]))
    return [(task['task']['name'], result) for play in document['plays'] for task in play['tasks']
            for result in task['hosts'].values()]


def scan_failure(run):
    """The findings of the secret scan that failed the bake; every task before it succeeded."""
    results = bake_results(run)
    failed = [(name, result) for name, result in results if result.get('failed')]
    assert len(failed) == 1, [(name, result.get('msg')) for name, result in failed]
    name, result = failed[0]
    assert name.endswith('image_seal : Scan the image for secrets'), (name, result.get('msg'))
    assert 'secret_scan found' in result['msg'], result['msg']
    return result['findings']


@pytest.fixture(scope='module')
def verified_base(engine):
    """A clean bake of web first: base is baked (and cached for the bakes below), and the full scan of a real
    image passes the seal and the image tests (no false positive)."""
    run = bake_web('1.0.0')
    assert run.rc == 0, run.output[-4000:]
    assert '%s/web:verified-1.0.0' % REPOSITORY in tags_of(engine)
    return engine.images.get('%s/base:verified-1.0.0' % REPOSITORY).id


@pytest.mark.parametrize('version, value, inside', [
    ('1.0.1-nul', nul_value, ''),
    ('1.0.1-utf16', utf16_value, 'UTF-16 text at byte'),
    ('1.0.1-gzip', gzip_value, 'base64 blob at byte'),
], ids=['nul', 'utf16', 'gzip'])
def test_a_secret_in_nginx_conf_fails_the_seal_and_tags_nothing_verified(engine, verified_base, version, value,
                                                                         inside):
    run = bake_web(version, {'webapp_worker_processes': value()})

    assert run.rc != 0
    findings = scan_failure(run)
    assert sorted(set(finding['rule'] for finding in findings)) == RULES, findings
    assert all(finding['path'] == CONF for finding in findings), findings
    assert all(finding.get('inside', '').startswith(inside) for finding in findings), findings
    if value is gzip_value:
        assert all(finding['inside'].endswith(' > gzip stream at byte 0') for finding in findings), findings
    # Nothing was committed: no image of this version at all, so none is verified.
    assert not [tag for tag in tags_of(engine) if tag.endswith(':' + version) or version in tag], tags_of(engine)
    # The base was not baked again: the bakes above reused it.
    assert engine.images.get('%s/base:verified-1.0.0' % REPOSITORY).id == verified_base

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import gzip
import hashlib
import io
import json
import os
import random
import sys

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import secret_scan as secret_scan_utils
from ansible_collections.immutable.infra.plugins.module_utils.secret_scan import (
    DEFAULT_EXCLUDE_PATHS,
    DEFAULT_MAX_FILE_SIZE,
    INCOMPLETE_RULE,
    RULES,
    SecretScanError,
    findings_message,
    read_mounts,
    scan,
    scan_bytes,
    unpersisted_mounts,
)

# Fake secrets are assembled from parts so that this file is not itself a secret for scanners (ours, GitHub's).
PEM = '-----BEGIN %sPRIVATE KEY-----'
PUTTY = 'PuTTY-User-' + 'Key-File-%s:'
AWS_KEY_ID = 'AK' + 'IA' + 'Q3EGRIJ7NDXZ5TBO'
AWS_SESSION_KEY_ID = 'AS' + 'IA' + 'Q3EGRIJ7NDXZ5TBO'
AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/' + 'bPxRfiCYzq3Xk9pLm2'  # 40 characters
GITHUB_SUFFIX = 'Zx8Yw7Vu6Ts5Rq4Po3Nm2Lk1Jh0Gf9Ed8Cb7A'
SLACK_TOKEN = 'xo' + 'xb-' + '2484763925-1520384729384-Qz7XkLmN3pRsT5uVwY9aBcDe'
BEARER = 'eyJhbGciOiJIUzI1NiJ9' + '.eyJzdWIiOiJkZXBsb3kifQ.c2lnbmF0dXJlLXZhbHVl'
SERVICE_ACCOUNT = (
    '{\n'
    '  "type": "service_account",\n'
    '  "project_id": "demo",\n'
    '  "private_key_id": "0a1b2c",\n'
    '  "private_key": "%s",\n'
    '  "client_email": "bake@demo.iam.gserviceaccount.com"\n'
    '}\n'
)


def write(base, relative, content, mode='w'):
    path = base / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path), mode) as handle:
        handle.write(content)
    return str(path)


def rules_of(result):
    return sorted((os.path.basename(finding['path']), finding['rule'], finding['line'])
                  for finding in result['findings'])


def scan_tree(tmp_path, **kwargs):
    kwargs.setdefault('exclude_paths', [])
    kwargs.setdefault('mounts', [])
    return scan(paths=[str(tmp_path)], **kwargs)


def counts(result):
    return {key: result[key] for key in ('findings', 'allowlisted_findings', 'scanned_files', 'skipped_files')}


CONTENT_CASES = [
    ('rsa.pem', 'x\n' + PEM % 'RSA ' + '\nMIIE\n', 'private_key', 2),
    ('openssh.key', PEM % 'OPENSSH ' + '\nb3Blbn\n', 'private_key', 1),
    ('ec.pem', PEM % 'EC ' + '\n', 'private_key', 1),
    ('dsa.pem', PEM % 'DSA ' + '\n', 'private_key', 1),
    ('encrypted.pem', PEM % 'ENCRYPTED ' + '\n', 'private_key', 1),
    ('pkcs8.pem', 'cert\ncert\n' + PEM % '' + '\n', 'private_key', 3),
    ('secring.asc', '-----BEGIN PGP PRIVATE KEY BLOCK-----\n', 'private_key', 1),
    ('app.env', 'REGION=eu\nAWS_ACCESS_KEY_ID=' + AWS_KEY_ID + '\n', 'aws_access_key_id', 2),
    ('session.env', 'key: "' + AWS_SESSION_KEY_ID + '"\n', 'aws_access_key_id', 1),
    ('config.ini', '[default]\naws_secret_access_key = ' + AWS_SECRET + '\n', 'aws_secret_access_key', 2),
    ('deploy.sh', 'export AWS_SECRET_ACCESS_KEY=' + AWS_SECRET + '\n', 'aws_secret_access_key', 1),
    ('creds.json', '{"aws_secret_access_key": "' + AWS_SECRET + '"}\n', 'aws_secret_access_key', 1),
    ('sa.json', SERVICE_ACCOUNT % 'MIIE', 'gcp_service_account', 2),
    ('gh1', 'token=' + 'gh' + 'p_' + GITHUB_SUFFIX, 'github_token', 1),
    ('gh2', 'gh' + 'o_' + GITHUB_SUFFIX, 'github_token', 1),
    ('gh3', '\n\n"gh' + 's_' + GITHUB_SUFFIX + '"', 'github_token', 3),
    ('gh4', 'github' + '_pat_' + '11ABCDEFG0_' + GITHUB_SUFFIX, 'github_token', 1),
    ('slack.yml', 'slack:\n  token: ' + SLACK_TOKEN + '\n', 'slack_token', 2),
    ('curl.sh', "curl -H 'Authorization: Bearer " + BEARER + "' https://api\n", 'bearer_token', 1),
    ('headers.json', '{"Authorization": "Bearer ' + BEARER + '"}', 'bearer_token', 1),
    ('.netrc', 'machine api.example.com\n  login deploy\n  password s3cr3t\n', 'netrc_password', 3),
    ('_netrc', 'machine a login b password c\n', 'netrc_password', 1),
    ('key.txt', PUTTY % '2' + ' ssh-rsa\nEncryption: none\n', 'putty_private_key', 1),
    ('key3.txt', 'x\n' + PUTTY % '3' + ' ssh-ed25519\nEncryption: aes256-cbc\n', 'putty_private_key', 2),
    ('boto.cfg', '[Credentials]\naws_secret_key = ' + AWS_SECRET + '\n', 'aws_secret_access_key', 2),
    ('settings.py', "SECRET_KEY = '" + AWS_SECRET + "'\n", 'aws_secret_access_key', 1),
    ('vars.yml', 'app:\n  secret_key: "' + AWS_SECRET + '"\n', 'aws_secret_access_key', 2),
    ('app.env', 'Secret_Access_Key=' + AWS_SECRET + '\n', 'aws_secret_access_key', 1),
    ('perl.pl', "my %c = (aws_secret_key => '" + AWS_SECRET + "');\n", 'aws_secret_access_key', 1),
]


@pytest.mark.parametrize('name, content, rule, line', CONTENT_CASES)
def test_content_rule_finds_the_secret_and_its_line(tmp_path, name, content, rule, line):
    path = write(tmp_path, name, content)

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': rule, 'line': line}]
    assert result['scanned_files'] == 1


@pytest.mark.parametrize('name, content', [
    ('public.pem', '-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n'),
    ('cert.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n'),
    ('rsa-public.pem', '-----BEGIN RSA PUBLIC KEY-----\n'),
    ('docs.txt', 'Look for a line that starts with BEGIN and ends with PRIVATE KEY.\n'),
    ('short.env', 'id=' + 'AK' + 'IA' + 'ABC123\n'),
    ('lower.env', 'id=' + 'AK' + 'IA' + 'q3egrij7ndxz5tbo\n'),
    ('embedded.txt', 'X' + AWS_KEY_ID + '\n'),
    ('longer.txt', AWS_KEY_ID + 'XYZ\n'),
    ('templated.ini', 'aws_secret_access_key = {{ vault_aws_secret_access_key }}\n'),
    ('empty.ini', 'aws_secret_access_key =\n'),
    ('short.ini', 'aws_secret_access_key = abc123\n'),
    ('external.json', '{"type": "service_account", "client_email": "bake@demo"}\n'),
    ('key-only.json', '{"type": "authorized_user", "private_key": "x"}\n'),
    ('gh.txt', 'gh' + 'p_' + 'short\n'),
    ('gh-prefix.txt', 'see the ghp_ prefix in the docs\n'),
    ('notgh.txt', 'xghp_' + GITHUB_SUFFIX + '\n'),
    ('slack.txt', 'Slack tokens start with xoxb- or xoxp-.\n'),
    ('slack-other.txt', 'xo' + 'xz-2484763925-1520384729384-Qz7XkLmN3pRsT5uV\n'),
    ('bearer-var.sh', 'curl -H "Authorization: Bearer $TOKEN"\n'),
    ('bearer-jinja.j2', 'Authorization: Bearer {{ api_token }}\n'),
    ('bearer-short.txt', 'Authorization: Bearer abc\n'),
    ('bearer-split.txt', 'Authorization:\nBearer ' + BEARER + '\n'),
    ('.netrc', 'machine api.example.com login deploy\n'),
    ('notes.txt', 'password s3cr3t\n'),
    ('secrets.yml', '$ANSIBLE_VAULT;1.1;AES256\n6162636465\n'),
    ('putty.txt', 'Save the key with PuTTY-User-Key-File-N: as its first line.\n'),
    ('django.py', "SECRET_KEY = 'django-insecure-" + AWS_SECRET + "'\n"),
    ('secret-key.yml', 'secret_key: "{{ vault_secret_key }}"\n'),
    ('short-secret.ini', 'secret_key = abc123\n'),
    ('mention.md', 'Set secret_key in the environment, never in the image.\n'),
])
def test_content_rule_does_not_flag_harmless_text(tmp_path, name, content):
    write(tmp_path, name, content)

    result = scan_tree(tmp_path)

    assert result['findings'] == []
    assert result['scanned_files'] == 1


NAME_CASES = [
    ('root/.ssh/id_rsa', 'ssh_private_key_file'),
    ('root/.ssh/id_ed25519', 'ssh_private_key_file'),
    ('root/.ssh/id_ecdsa', 'ssh_private_key_file'),
    ('root/.ssh/id_dsa', 'ssh_private_key_file'),
    ('home/deploy/.aws/credentials', 'aws_credentials_file'),
    ('project/.vault_pass', 'ansible_vault_password_file'),
    ('project/vault_pass.txt', 'ansible_vault_password_file'),
    ('project/.vault-password', 'ansible_vault_password_file'),
    ('project/.vault-password-file', 'ansible_vault_password_file'),
    ('project/My_Vault.Pass', 'ansible_vault_password_file'),
    ('project/prod-vault-passphrase.sh', 'ansible_vault_password_file'),
    ('home/deploy/keys/server.ppk', 'putty_private_key_file'),
    ('root/Desktop/KEY.PPK', 'putty_private_key_file'),
]


def test_every_rule_has_a_positive_case():
    assert set(case[2] for case in CONTENT_CASES) | set(case[1] for case in NAME_CASES) == set(RULES)


@pytest.mark.parametrize('relative, rule', NAME_CASES)
def test_name_rule_flags_the_file_whatever_its_content(tmp_path, relative, rule):
    path = write(tmp_path, relative, 'nothing secret looking here\n')

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': rule, 'line': None}]


@pytest.mark.parametrize('relative, content', [
    ('root/.ssh/id_rsa.pub', 'ssh-rsa AAAAB3 user@host\n'),
    ('root/.ssh/id_ed25519.pub', 'ssh-ed25519 AAAAC3 user@host\n'),
    ('root/.ssh/known_hosts', 'host ssh-ed25519 AAAAC3\n'),
    ('root/.ssh/authorized_keys', 'ssh-ed25519 AAAAC3 user@host\n'),
    ('home/deploy/.aws/config', '[default]\nregion = eu-west-1\n'),
    ('etc/app/credentials', 'user=deploy\n'),
    ('project/group_vars/all/vault.yml', 'db_password: "{{ vault_db_password }}"\n'),
    ('project/.vault_pass', '$ANSIBLE_VAULT;1.1;AES256\n6162636465\n'),
    ('project/vault_passwords.yml', '\n  $ANSIBLE_VAULT;1.2;AES256;prod\n6162636465\n'),
    ('home/deploy/keys/server.ppk.pub', 'ssh-rsa AAAAB3 user@host\n'),
])
def test_name_rule_does_not_flag_harmless_files(tmp_path, relative, content):
    write(tmp_path, relative, content)

    assert scan_tree(tmp_path)['findings'] == []


def test_a_private_key_file_gets_both_its_name_and_content_findings(tmp_path):
    path = write(tmp_path, 'root/.ssh/id_ed25519', PEM % 'OPENSSH ' + '\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n')

    result = scan_tree(tmp_path)

    assert result['findings'] == [
        {'path': path, 'rule': 'ssh_private_key_file', 'line': None},
        {'path': path, 'rule': 'private_key', 'line': 1},
    ]


def test_a_service_account_key_file_gets_both_its_findings(tmp_path):
    path = write(tmp_path, 'bake-sa.json', SERVICE_ACCOUNT % (PEM % '' + '\\nMIIE\\n-----END PRIVATE KEY-----\\n'))

    result = scan_tree(tmp_path)

    assert result['findings'] == [
        {'path': path, 'rule': 'gcp_service_account', 'line': 2},
        {'path': path, 'rule': 'private_key', 'line': 5},
    ]


def test_every_line_with_a_secret_is_reported_once_per_rule(tmp_path):
    path = write(tmp_path, 'keys.env', '\n'.join([AWS_KEY_ID, 'nothing', AWS_KEY_ID + ' ' + AWS_KEY_ID, '']))

    result = scan_tree(tmp_path)

    assert result['findings'] == [
        {'path': path, 'rule': 'aws_access_key_id', 'line': 1},
        {'path': path, 'rule': 'aws_access_key_id', 'line': 3},
    ]


def test_the_secret_value_is_never_returned(tmp_path):
    write(tmp_path, 'all.txt', '\n'.join([AWS_KEY_ID, 'aws_secret_access_key=' + AWS_SECRET, SLACK_TOKEN,
                                          'Authorization: Bearer ' + BEARER, 'gh' + 'p_' + GITHUB_SUFFIX]))

    result = scan_tree(tmp_path)

    assert len(result['findings']) == 5
    text = json.dumps(result) + findings_message(result['findings'])
    for secret in (AWS_KEY_ID, AWS_SECRET, SLACK_TOKEN, BEARER, GITHUB_SUFFIX):
        assert secret not in text


def test_allowlisted_paths_are_ignored_and_counted(tmp_path):
    write(tmp_path, 'etc/ssl/private/ssl-cert-snakeoil.key', PEM % '' + '\n')
    write(tmp_path, 'fixtures/a/id_rsa', 'x\n')
    kept = write(tmp_path, 'root/.ssh/id_rsa', 'x\n')

    result = scan_tree(tmp_path, allowlist=['*/ssl-cert-snakeoil.key', str(tmp_path / 'fixtures') + '/*'])

    assert result['findings'] == [{'path': kept, 'rule': 'ssh_private_key_file', 'line': None}]
    assert result['allowlisted_findings'] == 2
    assert result['scanned_files'] == 3


def test_allowlist_patterns_match_the_whole_path(tmp_path):
    path = write(tmp_path, 'etc/app/id_rsa', 'x\n')

    result = scan_tree(tmp_path, allowlist=['id_rsa', 'etc/app/id_rsa'])

    assert result['findings'] == [{'path': path, 'rule': 'ssh_private_key_file', 'line': None}]


def test_binary_files_are_read(tmp_path):
    path = write(tmp_path, 'blob.bin', b'\x7fELF\x00\x01' + (PEM % '').encode() + b'\n', mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': 'private_key', 'line': 1}]
    assert (result['scanned_files'], result['skipped_files']) == (1, 0)


def test_a_nul_byte_after_the_first_8_kib_does_not_make_a_file_binary(tmp_path):
    path = write(tmp_path, 'log.txt', b'a' * 8192 + b'\x00\n' + AWS_KEY_ID.encode() + b'\n', mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': 'aws_access_key_id', 'line': 2}]


def test_name_rules_apply_to_files_that_are_not_read(tmp_path):
    path = write(tmp_path, 'root/.ssh/id_ecdsa', b'\x00\x01\x02' * 10, mode='wb')

    result = scan_tree(tmp_path, max_file_size=10)

    assert [(finding['rule'], finding['line']) for finding in result['findings']] == [
        (INCOMPLETE_RULE, None), ('ssh_private_key_file', None)]
    assert all(finding['path'] == path for finding in result['findings'])
    assert result['skipped_files'] == 1


def test_a_file_bigger_than_max_file_size_fails_with_its_size_and_the_bound(tmp_path):
    content = PEM % '' + '\n'
    big = write(tmp_path, 'big/key.pem', content + 'x')
    exact = write(tmp_path, 'exact/key.pem', content)

    result = scan_tree(tmp_path, max_file_size=len(content))

    assert result['findings'] == [
        {'path': big, 'rule': INCOMPLETE_RULE, 'line': None,
         'reason': '%d bytes, bigger than max_file_size (%d bytes)' % (len(content) + 1, len(content))},
        {'path': exact, 'rule': 'private_key', 'line': 1},
    ]
    assert (result['scanned_files'], result['skipped_files']) == (1, 1)
    assert result['limits']['max_file_size'] == len(content)
    message = findings_message(result['findings'])
    assert 'could not read 1 file(s) fully' in message
    assert '%s: %d bytes, bigger than max_file_size' % (big, len(content) + 1) in message


def test_a_file_bigger_than_max_file_size_passes_when_allowlisted(tmp_path):
    write(tmp_path, 'var/lib/app/big.db', b'\x00' * 2048, mode='wb')

    result = scan_tree(tmp_path, max_file_size=1024, allowlist=['*/var/lib/app/big.db'])

    assert result['findings'] == []
    assert (result['allowlisted_findings'], result['skipped_files']) == (1, 1)


def test_the_default_size_bound_is_64_mib():
    assert DEFAULT_MAX_FILE_SIZE == 64 * 1024 * 1024


def test_an_unreadable_file_fails_with_the_error(tmp_path, monkeypatch):
    path = write(tmp_path, 'etc/app/secret.conf', 'x\n')
    real_open = os.open

    def refuse(name, *args, **kwargs):
        if name == path:
            raise PermissionError(13, 'Permission denied')
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(secret_scan_utils.os, 'open', refuse)

    result = scan_tree(tmp_path)

    assert result['findings'] == [
        {'path': path, 'rule': INCOMPLETE_RULE, 'line': None, 'reason': 'unreadable: Permission denied'}]


def test_symbolic_links_are_not_followed(tmp_path):
    outside = tmp_path / 'outside'
    write(outside, 'secret.pem', PEM % '' + '\n')
    write(outside, 'dir/id_rsa', 'x\n')
    tree = tmp_path / 'tree'
    tree.mkdir()
    os.symlink(str(outside / 'secret.pem'), str(tree / 'linked.pem'))
    os.symlink(str(outside / 'dir'), str(tree / 'linked-dir'))
    os.symlink(str(outside / 'dir' / 'id_rsa'), str(tree / 'id_ed25519'))
    os.symlink(str(outside / 'dangling'), str(tree / 'dangling'))

    result = scan(paths=[str(tree)], exclude_paths=[], mounts=[])

    assert counts(result) == {'findings': [], 'allowlisted_findings': 0, 'scanned_files': 0, 'skipped_files': 0}


def test_a_symbolic_link_given_as_a_path_is_not_followed(tmp_path):
    write(tmp_path, 'real/id_rsa', 'x\n')
    os.symlink(str(tmp_path / 'real'), str(tmp_path / 'link'))

    assert scan(paths=[str(tmp_path / 'link')], exclude_paths=[])['findings'] == []


def test_fifos_are_ignored_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / 'vault_pass.fifo'))

    result = scan_tree(tmp_path)

    assert counts(result) == {'findings': [], 'allowlisted_findings': 0, 'scanned_files': 0, 'skipped_files': 0}


def test_excluded_directories_are_not_entered(tmp_path):
    write(tmp_path, 'proc/1/environ', AWS_KEY_ID + '\n')
    write(tmp_path, 'usr/lib/python3.11/test/keycert.pem', PEM % '' + '\n')
    write(tmp_path, 'usr/lib/python3/dist-packages/x/id_rsa', 'x\n')
    kept = write(tmp_path, 'usr/local/lib/python3.11/id_rsa', 'x\n')

    result = scan_tree(tmp_path, exclude_paths=[str(tmp_path / 'proc'), str(tmp_path / 'usr/lib/python3*') + '/'])

    assert result['findings'] == [{'path': kept, 'rule': 'ssh_private_key_file', 'line': None}]
    assert result['scanned_files'] == 1


def test_a_path_inside_an_excluded_directory_is_not_scanned(tmp_path):
    write(tmp_path, 'proc/self/id_rsa', 'x\n')

    result = scan(paths=[str(tmp_path / 'proc' / 'self')], exclude_paths=[str(tmp_path / 'proc')])

    assert result['scanned_files'] == 0


def test_a_single_file_can_be_scanned(tmp_path):
    path = write(tmp_path, 'app.env', AWS_KEY_ID + '\n')

    assert scan(paths=[path], exclude_paths=[])['findings'] == [
        {'path': path, 'rule': 'aws_access_key_id', 'line': 1}]


def test_overlapping_paths_scan_each_file_once(tmp_path):
    write(tmp_path, 'etc/ssh/id_rsa', 'x\n')

    result = scan(paths=[str(tmp_path), str(tmp_path / 'etc' / 'ssh') + '/'], exclude_paths=[])

    assert len(result['findings']) == 1
    assert result['scanned_files'] == 1


def test_no_path_is_excluded_by_default():
    assert DEFAULT_EXCLUDE_PATHS == []
    for path in ('/run', '/usr/share/doc', '/usr/lib/python3.11', '/var/lib/dpkg', '/usr/share/man', '/var/cache/apt',
                 '/etc/ssh', '/root/.ssh', '/tmp', '/usr/local/lib/python3.11'):
        assert not secret_scan_utils.is_excluded(path, DEFAULT_EXCLUDE_PATHS), path


@pytest.mark.parametrize('relative', [
    'run/app/token.env',
    'usr/share/doc/app/README',
    'usr/lib/python3.11/site-packages/app/settings.py',
    'usr/lib/python3/dist-packages/app/config.py',
    'var/lib/dpkg/info/app.conffiles',
    'usr/share/man/man1/app.1',
    'var/cache/apt/archives/partial/x',
])
def test_places_the_old_scanner_skipped_are_scanned_by_default(tmp_path, relative):
    path = write(tmp_path, relative, 'AWS_ACCESS_KEY_ID=' + AWS_KEY_ID + '\n')

    result = scan(paths=[str(tmp_path)], mounts=[])

    assert result['findings'] == [{'path': path, 'rule': 'aws_access_key_id', 'line': 1}]


def test_default_scan_starts_at_the_root(monkeypatch):
    seen = []
    monkeypatch.setattr(secret_scan_utils, '_walk_files', lambda root, *args: seen.append(root) or [])

    scan()

    assert seen == ['/']


@pytest.mark.parametrize('kwargs, message', [
    ({'paths': ['relative/dir']}, 'not an absolute path'),
    ({'paths': []}, 'at least one directory'),
    ({'max_file_size': -1}, 'max_file_size'),
    ({'allowlist': ['']}, 'allowlist'),
])
def test_bad_arguments_raise_one_error_type(kwargs, message):
    with pytest.raises(SecretScanError, match=message):
        scan(**kwargs)


def test_a_missing_path_is_an_error_that_names_it(tmp_path):
    missing = str(tmp_path / 'nope')

    with pytest.raises(SecretScanError, match='%s does not exist' % missing):
        scan(paths=[missing])


def test_findings_message_lists_each_path_and_rule_and_how_to_allowlist():
    message = findings_message([
        {'path': '/root/.ssh/id_rsa', 'rule': 'ssh_private_key_file', 'line': None},
        {'path': '/etc/app.env', 'rule': 'aws_access_key_id', 'line': 3},
    ])

    assert '2 secret(s)' in message
    assert '/root/.ssh/id_rsa (rule ssh_private_key_file)' in message
    assert '/etc/app.env line 3 (rule aws_access_key_id)' in message
    assert 'image_seal_secret_allowlist' in message


def test_the_scanner_does_not_flag_its_own_code():
    # Both files are copied into every bake, under the remote temporary directory.
    here = os.path.dirname(os.path.abspath(secret_scan_utils.__file__))
    plugins = os.path.dirname(here)
    paths = [os.path.join(here, 'secret_scan.py'), os.path.join(plugins, 'modules', 'secret_scan.py')]

    result = scan(paths=paths, exclude_paths=[], mounts=[])

    assert result['findings'] == []
    assert result['scanned_files'] == 2


# Secrets behind a NUL byte, in UTF-16, in gzip and in base64 (issue 10, item 1).

OPENSSH_KEY = (PEM % 'OPENSSH ' + '\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n'
               + '-----END OPENSSH ' + 'PRIVATE KEY-----\n')
AWS_PAIR = 'aws_access_key_id = ' + AWS_KEY_ID + '\naws_secret_access_key = ' + AWS_SECRET + '\n'


def found(result):
    """(basename, rule, line, inside) of each finding."""
    return sorted((os.path.basename(finding['path']), finding['rule'], finding['line'], finding.get('inside', ''))
                  for finding in result['findings'])


def gzipped(data, mtime=0):
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode='wb', mtime=mtime) as handle:
        handle.write(data)
    return buffer.getvalue()


def test_a_nul_byte_does_not_hide_a_private_key(tmp_path):
    write(tmp_path, 'nginx.conf', b'# Ansible managed\nworker_processes 2;\n# \x00\n# ' + OPENSSH_KEY.encode(),
          mode='wb')

    assert found(scan_tree(tmp_path)) == [('nginx.conf', 'private_key', 4, '')]


def test_a_nul_byte_does_not_hide_an_aws_key_pair(tmp_path):
    write(tmp_path, 'app.conf', b'\x00\x01\x02\x03\n' + AWS_PAIR.encode(), mode='wb')

    assert found(scan_tree(tmp_path)) == [('app.conf', 'aws_access_key_id', 2, ''),
                                          ('app.conf', 'aws_secret_access_key', 3, '')]


def test_secrets_in_a_real_binary_are_found(tmp_path):
    with open(os.path.realpath(sys.executable), 'rb') as handle:
        binary = handle.read()
    write(tmp_path, 'python', binary[:100000] + b'\x00' + AWS_PAIR.encode() + b'\x00' + binary[100000:], mode='wb')

    rules = [rule for dummy, rule, dummy, dummy in found(scan_tree(tmp_path))]

    assert rules == ['aws_access_key_id', 'aws_secret_access_key']


@pytest.mark.parametrize('encoding, prefix', [
    ('utf-16-le', b''),
    ('utf-16-be', b''),
    ('utf-16', b''),  # with a byte order mark
    ('utf-16-le', b'\x7fELF\x02\x01\x01'),  # inside a binary, at an odd offset
    ('utf-16-be', b'\x7fELF\x02\x01\x01\x00\x00'),
])
def test_utf16_text_is_decoded(tmp_path, encoding, prefix):
    text = 'x\n' + OPENSSH_KEY + AWS_PAIR
    write(tmp_path, 'key.txt', prefix + text.encode(encoding), mode='wb')

    result = found(scan_tree(tmp_path))

    assert sorted((rule, line) for dummy, rule, line, dummy in result) == [
        ('aws_access_key_id', 5), ('aws_secret_access_key', 6), ('private_key', 2)]
    assert all(inside.startswith('UTF-16 text at byte ') for dummy, dummy, dummy, inside in result)


def test_utf16_lines_between_plain_line_breaks_are_decoded_one_by_one(tmp_path):
    # As in a configuration file where each UTF-16 line is a comment of its own: the header line alone holds no
    # word longer than 7 characters.
    lines = ''.join('# %s\n' % line.encode('utf-16-le').decode('latin-1') for line in OPENSSH_KEY.splitlines())
    write(tmp_path, 'nginx.conf', ('worker_processes 2;\n' + lines).encode('latin-1'), mode='wb')

    result = found(scan_tree(tmp_path))

    assert [(rule, line) for dummy, rule, line, dummy in result] == [('private_key', 1)]
    assert result[0][3] == 'UTF-16 text at byte 22'


def test_a_gzip_file_is_decompressed(tmp_path):
    write(tmp_path, 'usr/share/doc/app/notes.gz', gzipped(('notes\n' + OPENSSH_KEY + AWS_PAIR).encode()), mode='wb')

    assert found(scan_tree(tmp_path)) == [
        ('notes.gz', 'aws_access_key_id', 5, 'gzip stream at byte 0'),
        ('notes.gz', 'aws_secret_access_key', 6, 'gzip stream at byte 0'),
        ('notes.gz', 'private_key', 2, 'gzip stream at byte 0'),
    ]


def test_a_gzip_stream_inside_another_file_is_decompressed(tmp_path):
    stream = gzipped(OPENSSH_KEY.encode())
    write(tmp_path, 'blob.bin', b'\x7fELF' + b'\x00' * 1000 + b'\x1f\x8b\x08 not gzip' + stream + b'\x00tail',
          mode='wb')

    assert found(scan_tree(tmp_path)) == [('blob.bin', 'private_key', 1, 'gzip stream at byte 1016')]


def test_a_gzip_stream_is_inflated_up_to_max_decoded_size(tmp_path):
    path = write(tmp_path, 'bomb.gz', gzipped(b'\x00' * 5000000 + OPENSSH_KEY.encode()), mode='wb')

    result = scan_tree(tmp_path, max_decoded_size=1000000)

    assert result['findings'] == [{
        'path': path, 'rule': INCOMPLETE_RULE, 'line': None,
        'reason': 'the gzip stream at byte 0 and the other encoded parts of the file decode to more than '
                  'max_decoded_size (1000000 bytes)'}]
    assert scan_tree(tmp_path)['findings'][0]['rule'] == 'private_key'


def test_a_truncated_gzip_stream_is_read_as_far_as_it_inflates(tmp_path):
    stream = gzipped((OPENSSH_KEY + 'x' * 100000).encode())
    write(tmp_path, 'cut.gz', stream[:len(stream) // 2], mode='wb')

    assert found(scan_tree(tmp_path)) == [('cut.gz', 'private_key', 1, 'gzip stream at byte 0')]


@pytest.mark.parametrize('blob', [
    base64.b64encode(OPENSSH_KEY.encode()),
    base64.encodebytes((OPENSSH_KEY * 3).encode()),  # wrapped at 76 characters
    b'\n  '.join(base64.b64encode((OPENSSH_KEY * 3).encode())[i:i + 64] for i in range(0, 900, 64)),
    b'xyz' + base64.b64encode(OPENSSH_KEY.encode()),  # glued to other base64 characters
])
def test_a_base64_blob_of_a_key_is_decoded(tmp_path, blob):
    write(tmp_path, 'secret.yml', b'tls:\n  key: |\n  ' + blob + b'\n', mode='wb')

    result = found(scan_tree(tmp_path))

    assert set(rule for dummy, rule, dummy, dummy in result) == {'private_key'}
    assert all(inside == 'base64 blob at byte 16' for dummy, dummy, dummy, inside in result)


def test_a_base64_blob_of_an_aws_key_pair_is_decoded(tmp_path):
    write(tmp_path, 'env.json', b'{"credentials": "' + base64.b64encode(AWS_PAIR.encode()) + b'"}', mode='wb')

    assert found(scan_tree(tmp_path)) == [
        ('env.json', 'aws_access_key_id', 1, 'base64 blob at byte 17'),
        ('env.json', 'aws_secret_access_key', 2, 'base64 blob at byte 17'),
    ]


def test_encodings_inside_one_another_are_decoded(tmp_path):
    inner = base64.b64encode(gzipped(('x\n' + OPENSSH_KEY).encode('utf-16-le')))
    write(tmp_path, 'app.ini', b'[app]\nblob = ' + inner + b'\n', mode='wb')

    assert found(scan_tree(tmp_path)) == [
        ('app.ini', 'private_key', 2, 'base64 blob at byte 13 > gzip stream at byte 0 > UTF-16 text at byte 0')]


def test_encodings_nested_deeper_than_max_depth_fail(tmp_path):
    path = write(tmp_path, 'app.ini', b'blob = ' + base64.b64encode(gzipped(OPENSSH_KEY.encode())) + b'\n', mode='wb')

    result = scan_tree(tmp_path, max_depth=1)

    assert result['findings'] == [{
        'path': path, 'rule': INCOMPLETE_RULE, 'line': None,
        'reason': 'encoded content nested more than max_depth (1) layers deep, in the base64 blob at byte 7'}]


@pytest.mark.parametrize('name, content', [
    ('random.gz', gzipped(' '.join(''.join(random.Random(seed).choice('abcdefghijklmnopqrstuvwxyz')
                                           for dummy in range(random.Random(seed).randint(2, 12)))
                                   for seed in range(20000)).encode())),
    ('random.bin', random.Random(7).randbytes(2000000)),
    ('words.b64', base64.encodebytes(b'the quick brown fox jumps over the lazy dog ' * 200)),
    ('hex.txt', b'\n'.join(hashlib.sha256(bytes([i])).hexdigest().encode() for i in range(256))),
])
def test_ordinary_binary_and_encoded_content_has_no_finding(tmp_path, name, content):
    write(tmp_path, name, content, mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == []
    assert result['scanned_files'] == 1


def test_the_python_interpreter_has_no_finding():
    executable = os.path.realpath(sys.executable)

    result = scan(paths=[executable], mounts=[])

    assert result['findings'] == []
    assert result['scanned_bytes'] == os.path.getsize(executable)


def test_a_known_public_test_key_is_counted_not_reported(tmp_path, monkeypatch):
    body = 'MIIEogIBAAKCAQEAtest' + 'A' * 40
    write(tmp_path, 'libtls.so', b'\x00' + (PEM % 'RSA ' + '\n' + body + '\n-----END RSA PRIVATE KEY-----\n').encode()
          + b'\x00', mode='wb')
    other = write(tmp_path, 'other.pem', PEM % 'RSA ' + '\nMIIEother\n-----END RSA PRIVATE KEY-----\n')
    monkeypatch.setattr(secret_scan_utils, 'KNOWN_TEST_KEYS', frozenset([hashlib.sha256(body.encode()).hexdigest()]))

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': other, 'rule': 'private_key', 'line': 1}]
    assert result['known_test_keys'] == 1


def test_secrets_are_reported_in_the_file_they_are_in_among_many(tmp_path):
    paths = [write(tmp_path, 'etc/conf%03d' % index, 'line\n' * (index % 7) + 'value = %d\n' % index)
             for index in range(300)]
    write(tmp_path, 'etc/conf157', 'a\nb\nAWS_ACCESS_KEY_ID=' + AWS_KEY_ID + '\n')
    # A secret cut in two by the end of a file is no secret: files scanned together stay apart.
    write(tmp_path, 'etc/conf200', '-----BEGIN OPENSSH PRIV')
    write(tmp_path, 'etc/conf201', 'ATE KEY-----\n' + AWS_KEY_ID[:10])
    write(tmp_path, 'etc/conf202', AWS_KEY_ID[10:] + '\n')

    for workers in (1, 2):
        result = scan_tree(tmp_path, workers=workers)

        assert result['findings'] == [{'path': paths[157], 'rule': 'aws_access_key_id', 'line': 3}]
        assert result['scanned_files'] == 300


def test_a_truncated_gzip_stream_does_not_hide_the_next_file(tmp_path):
    stream = gzipped(('x' * 100000).encode())
    write(tmp_path, 'a.gz', stream[:len(stream) // 2], mode='wb')
    write(tmp_path, 'b.gz', gzipped(OPENSSH_KEY.encode()), mode='wb')

    assert found(scan_tree(tmp_path)) == [('b.gz', 'private_key', 1, 'gzip stream at byte 0')]


def test_hard_links_are_read_once_and_reported_at_each_path(tmp_path):
    first = write(tmp_path, 'a/key.pem', PEM % '' + '\n' + 'x' * 1000)
    second = str(tmp_path / 'b.pem')
    os.link(first, second)

    result = scan_tree(tmp_path)

    assert [finding['path'] for finding in result['findings']] == [first, second]
    assert result['scanned_bytes'] == os.path.getsize(first)


def test_parallel_workers_find_the_same_as_one(tmp_path):
    for index in range(200):
        content = b'\x00' * index + (AWS_PAIR if index % 50 == 0 else 'x').encode()
        write(tmp_path, 'tree/%d/file%d' % (index % 13, index), content, mode='wb')
    write(tmp_path, 'tree/doc.gz', gzipped(OPENSSH_KEY.encode()), mode='wb')

    assert scan_tree(tmp_path, workers=1) == scan_tree(tmp_path, workers=3)


def test_scan_bytes_returns_hits_and_reasons():
    assert scan_bytes(b'\x00' + AWS_KEY_ID.encode()) == ([(1, 'aws_access_key_id', '')], [])
    assert scan_bytes(b'machine a password b\n', '.netrc') == ([(1, 'netrc_password', '')], [])


MOUNTINFO = '''\
21 1 0:40 / / rw,relatime - overlay overlay rw,lowerdir=/a,upperdir=/b,workdir=/c
22 21 0:45 / /proc rw,nosuid - proc proc rw
23 21 0:46 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k
24 23 0:47 / /dev/pts rw - devpts devpts rw
25 21 0:48 / /sys ro - sysfs sysfs ro
26 21 8:1 /var/lib/docker/containers/x/hosts /etc/hosts rw - ext4 /dev/sda1 rw
27 21 8:1 /tmp/packer /packer\\040files rw - ext4 /dev/sda1 rw
28 21 8:1 /srv/data /srv/data rw shared:5 - ext4 /dev/sda1 rw
'''


def test_mountinfo_is_read_with_escaped_paths(tmp_path):
    path = write(tmp_path, 'mountinfo', MOUNTINFO)

    assert read_mounts(path) == [('/', 'overlay'), ('/proc', 'proc'), ('/dev', 'tmpfs'), ('/dev/pts', 'devpts'),
                                 ('/sys', 'sysfs'), ('/etc/hosts', 'ext4'), ('/packer files', 'ext4'),
                                 ('/srv/data', 'ext4')]
    assert read_mounts(str(tmp_path / 'missing')) == []


def test_in_a_container_every_mount_but_the_root_is_skipped(tmp_path):
    mounts = read_mounts(write(tmp_path, 'mountinfo', MOUNTINFO))

    assert sorted(unpersisted_mounts(mounts)) == [
        '/dev', '/dev/pts', '/etc/hosts', '/packer files', '/proc', '/srv/data', '/sys']


def test_outside_a_container_only_pseudo_filesystems_are_skipped(tmp_path):
    mounts = [('/', 'ext4'), ('/proc', 'proc'), ('/run', 'tmpfs'), ('/boot', 'ext4'), ('/home', 'xfs')]

    assert sorted(unpersisted_mounts(mounts, container=False)) == ['/proc', '/run']


def test_skipped_mount_points_are_not_entered_and_are_reported(tmp_path):
    write(tmp_path, 'dev/shm/key.pem', PEM % '' + '\n')
    write(tmp_path, 'proc/1/environ', AWS_KEY_ID + '\n')
    kept = write(tmp_path, 'run/key.pem', PEM % '' + '\n')

    result = scan(paths=[str(tmp_path)], mounts=[('/', 'ext4'), (str(tmp_path / 'dev'), 'tmpfs'),
                                                 (str(tmp_path / 'proc'), 'proc')])

    assert result['findings'] == [{'path': kept, 'rule': 'private_key', 'line': 1}]
    assert result['skipped_mounts'] == [str(tmp_path / 'dev'), str(tmp_path / 'proc')]


def test_findings_message_says_where_inside_encoded_content():
    message = findings_message([
        {'path': '/etc/nginx/nginx.conf', 'rule': 'private_key', 'line': 2, 'inside': 'gzip stream at byte 57'},
        {'path': '/usr/bin/big', 'rule': INCOMPLETE_RULE, 'line': None, 'reason': '99 bytes, bigger than x'},
    ])

    assert '1 secret(s)' in message
    assert '/etc/nginx/nginx.conf line 2 of the gzip stream at byte 57 (rule private_key)' in message
    assert 'could not read 1 file(s) fully' in message
    assert '/usr/bin/big: 99 bytes, bigger than x' in message
    assert 'image_seal_secret_allowlist' in message


@pytest.mark.parametrize('kwargs, message', [
    ({'max_decoded_size': -1}, 'max_decoded_size'),
    ({'max_depth': 'deep'}, 'max_depth'),
])
def test_bad_limits_raise_one_error_type(kwargs, message):
    with pytest.raises(SecretScanError, match=message):
        scan(**kwargs)

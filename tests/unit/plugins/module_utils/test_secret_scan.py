# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import secret_scan as secret_scan_utils
from ansible_collections.immutable.infra.plugins.module_utils.secret_scan import (
    DEFAULT_EXCLUDE_PATHS,
    RULES,
    SecretScanError,
    findings_message,
    scan,
)

# Fake secrets are assembled from parts so that this file is not itself a secret for scanners (ours, GitHub's).
PEM = '-----BEGIN %sPRIVATE KEY-----'
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
    return scan(paths=[str(tmp_path)], **kwargs)


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


def test_binary_files_are_skipped(tmp_path):
    write(tmp_path, 'blob.bin', b'\x7fELF\x00\x01' + (PEM % '').encode() + b'\n', mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == []
    assert (result['scanned_files'], result['skipped_files']) == (0, 1)


def test_a_nul_byte_after_the_first_8_kib_does_not_make_a_file_binary(tmp_path):
    path = write(tmp_path, 'log.txt', b'a' * 8192 + b'\x00\n' + AWS_KEY_ID.encode() + b'\n', mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': 'aws_access_key_id', 'line': 2}]


def test_name_rules_apply_to_skipped_files(tmp_path):
    path = write(tmp_path, 'root/.ssh/id_ecdsa', b'\x00\x01\x02', mode='wb')

    result = scan_tree(tmp_path)

    assert result['findings'] == [{'path': path, 'rule': 'ssh_private_key_file', 'line': None}]
    assert result['skipped_files'] == 1


def test_files_bigger_than_max_file_size_are_skipped_and_counted(tmp_path):
    content = PEM % '' + '\n'
    write(tmp_path, 'big/key.pem', content + 'x')
    exact = write(tmp_path, 'exact/key.pem', content)

    result = scan_tree(tmp_path, max_file_size=len(content))

    assert result['findings'] == [{'path': exact, 'rule': 'private_key', 'line': 1}]
    assert (result['scanned_files'], result['skipped_files']) == (1, 1)


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

    result = scan(paths=[str(tree)], exclude_paths=[])

    assert result == {'findings': [], 'allowlisted_findings': 0, 'scanned_files': 0, 'skipped_files': 0}


def test_a_symbolic_link_given_as_a_path_is_not_followed(tmp_path):
    write(tmp_path, 'real/id_rsa', 'x\n')
    os.symlink(str(tmp_path / 'real'), str(tmp_path / 'link'))

    assert scan(paths=[str(tmp_path / 'link')], exclude_paths=[])['findings'] == []


def test_fifos_are_ignored_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / 'vault_pass.fifo'))

    result = scan_tree(tmp_path)

    assert result == {'findings': [], 'allowlisted_findings': 0, 'scanned_files': 0, 'skipped_files': 0}


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


def test_default_excludes_leave_out_pseudo_filesystems_but_not_places_secrets_hide():
    for path in ('/proc', '/sys', '/dev', '/run', '/var/lib/dpkg', '/usr/share/doc', '/usr/share/man',
                 '/usr/lib/python3.11', '/usr/lib/python3/dist-packages'):
        assert secret_scan_utils.is_excluded(path, DEFAULT_EXCLUDE_PATHS), path
    for path in ('/etc/ssh', '/root/.ssh', '/home/deploy', '/tmp', '/var/lib/app', '/var/tmp', '/opt/app', '/srv',
                 '/usr/local/lib/python3.11', '/etc/ssl/private'):
        assert not secret_scan_utils.is_excluded(path, DEFAULT_EXCLUDE_PATHS), path


def test_default_scan_starts_at_the_root(monkeypatch):
    seen = []
    monkeypatch.setattr(secret_scan_utils, '_walk_files', lambda root, excludes: seen.append(root) or [])

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

    result = scan(paths=paths, exclude_paths=[])

    assert result['findings'] == []
    assert result['scanned_files'] == 2

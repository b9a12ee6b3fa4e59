# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import hashlib
import json
import os
import stat

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import image_manifest as image_manifest_utils
from ansible_collections.immutable.infra.plugins.module_utils.image_manifest import (
    MANIFEST_KEYS,
    ImageManifestError,
    ensure_manifest,
    validate_manifest,
)

BAKE_KEY = hashlib.sha256(b'everything that went into the image').hexdigest()
FIRST_BAKE = '2026-11-26T15:11:00Z'
SECOND_BAKE = '2026-11-27T09:30:00Z'
DPKG_OUTPUT = (
    'base-files\t12.4+deb12u8\tinstalled\n'
    'nginx\t1.22.1-9\tinstalled\n'
    'apache2\t2.4.62-1~deb12u2\tconfig-files\n'
    'openssl\t3.0.15-1~deb12u1\tinstalled\n'
)


class FakeDpkg:
    """Stands in for AnsibleModule.run_command running dpkg-query."""

    def __init__(self, stdout=DPKG_OUTPUT, rc=0, stderr=''):
        self.result = (rc, stdout, stderr)
        self.calls = []

    def __call__(self, args):
        self.calls.append(args)
        return self.result


@pytest.fixture
def dpkg():
    return FakeDpkg()


@pytest.fixture
def managed(tmp_path):
    nginx = tmp_path / 'etc' / 'nginx' / 'nginx.conf'
    nginx.parent.mkdir(parents=True)
    nginx.write_bytes(b'worker_processes auto;\n')
    app = tmp_path / 'srv' / 'app.bin'
    app.parent.mkdir(parents=True)
    app.write_bytes(bytes(range(256)) * 4096)
    return [str(nginx), str(app)]


@pytest.fixture
def seal(tmp_path, dpkg, managed):
    """ensure_manifest with a complete set of valid arguments; keyword arguments override them."""
    path = str(tmp_path / 'etc' / 'immutable-infra' / 'manifest.json')

    def call(**overrides):
        kwargs = dict(path=path, name='web', version='1.2.0', revision='0123456789abcdef0123456789abcdef01234567',
                      bake_key=BAKE_KEY, parent_image='sha256:' + 'ab' * 32, roles=['bake_guard', 'nginx'],
                      managed_files=managed, packages=True, run_command=dpkg, dpkg_query='/usr/bin/dpkg-query',
                      now=lambda: FIRST_BAKE)
        kwargs.update(overrides)
        return ensure_manifest(**kwargs)

    call.path = path
    return call


def read(path):
    with open(path) as handle:
        return json.load(handle)


def test_writes_the_manifest_with_every_key(seal, managed):
    result = seal()

    assert result['changed'] is True
    assert result['path'] == seal.path
    written = read(seal.path)
    assert written == result['manifest']
    assert sorted(written) == sorted(MANIFEST_KEYS)
    assert written['schema'] == 1
    assert (written['name'], written['version'], written['built']) == ('web', '1.2.0', FIRST_BAKE)
    assert written['bake_key'] == BAKE_KEY
    assert written['parent_image'] == 'sha256:' + 'ab' * 32
    assert written['roles'] == ['bake_guard', 'nginx']
    assert sorted(written['files']) == sorted(managed)
    assert validate_manifest(written) == []


def test_records_the_sha256_of_each_managed_file(seal, managed):
    files = seal()['manifest']['files']

    for path in managed:
        with open(path, 'rb') as handle:
            assert files[path] == hashlib.sha256(handle.read()).hexdigest()


def test_follows_a_symbolic_link_in_managed_files(seal, managed, tmp_path):
    link = str(tmp_path / 'enabled.conf')
    os.symlink(managed[0], link)

    files = seal(managed_files=[link])['manifest']['files']

    assert files == {link: hashlib.sha256(b'worker_processes auto;\n').hexdigest()}


def test_records_installed_packages_only(seal, dpkg):
    packages = seal()['manifest']['packages']

    assert packages == {'base-files': '12.4+deb12u8', 'nginx': '1.22.1-9', 'openssl': '3.0.15-1~deb12u1'}
    assert dpkg.calls[0][0] == '/usr/bin/dpkg-query'
    assert dpkg.calls[0][1:3] == ['-W', '-f']
    assert dpkg.calls[0][3].startswith('${Package}\\t${Version}\\t')


def test_packages_false_records_none_and_does_not_need_dpkg(seal, dpkg):
    result = seal(packages=False, dpkg_query=None)

    assert result['manifest']['packages'] == {}
    assert dpkg.calls == []


def test_packages_true_without_dpkg_query_is_an_error(seal):
    with pytest.raises(ImageManifestError, match='dpkg-query was not found.*packages=false'):
        seal(dpkg_query=None)


def test_a_failing_dpkg_query_is_an_error(seal):
    with pytest.raises(ImageManifestError, match='rc=2.*database is locked'):
        seal(run_command=FakeDpkg(rc=2, stdout='', stderr='dpkg-query: database is locked\n'))


def test_second_identical_run_keeps_built_and_reports_unchanged(seal):
    seal()
    before = os.stat(seal.path)

    result = seal(now=lambda: SECOND_BAKE)

    assert result['changed'] is False
    assert result['manifest']['built'] == FIRST_BAKE
    after = os.stat(seal.path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_changed_input_gets_a_new_built_time(seal):
    seal()

    result = seal(version='1.3.0', now=lambda: SECOND_BAKE)

    assert result['changed'] is True
    assert read(seal.path)['version'] == '1.3.0'
    assert read(seal.path)['built'] == SECOND_BAKE


def test_a_changed_managed_file_changes_the_manifest(seal, managed):
    seal()
    with open(managed[0], 'ab') as handle:
        handle.write(b'events {}\n')

    result = seal(now=lambda: SECOND_BAKE)

    assert result['changed'] is True
    assert result['manifest']['built'] == SECOND_BAKE


def test_an_explicit_built_time_is_used(seal):
    seal()

    result = seal(built='2030-01-02T03:04:05.123Z')

    assert result['changed'] is True
    assert read(seal.path)['built'] == '2030-01-02T03:04:05.123Z'
    assert seal(built='2030-01-02T03:04:05.123Z')['changed'] is False


def test_an_unreadable_existing_manifest_is_replaced(seal):
    seal()
    with open(seal.path, 'w') as handle:
        handle.write('{not json')

    result = seal(now=lambda: SECOND_BAKE)

    assert result['changed'] is True
    assert read(seal.path)['built'] == SECOND_BAKE


def test_creates_the_directory_0755_and_the_file_0644(seal, tmp_path):
    old_umask = os.umask(0o077)
    try:
        seal()
    finally:
        os.umask(old_umask)

    assert stat.S_IMODE(os.stat(os.path.dirname(seal.path)).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(seal.path).st_mode) == 0o644


@pytest.mark.skipif(not hasattr(os, 'geteuid') or os.geteuid() != 0, reason='only root can own files as root')
def test_the_manifest_is_owned_by_root(seal):
    seal()

    info = os.stat(seal.path)
    assert (info.st_uid, info.st_gid) == (0, 0)


def test_a_wrong_mode_is_fixed_without_rewriting(seal):
    seal()
    os.chmod(seal.path, 0o600)
    inode = os.stat(seal.path).st_ino

    result = seal(now=lambda: SECOND_BAKE)

    assert result['changed'] is True
    assert stat.S_IMODE(os.stat(seal.path).st_mode) == 0o644
    assert os.stat(seal.path).st_ino == inode
    assert seal()['changed'] is False


def test_writes_atomically_through_a_rename_in_the_same_directory(seal, monkeypatch):
    seal()
    renames = []
    real_replace = os.replace

    def recording_replace(source, destination):
        renames.append((source, destination))
        return real_replace(source, destination)

    monkeypatch.setattr(image_manifest_utils.os, 'replace', recording_replace)

    seal(version='1.3.0')

    [(source, destination)] = renames
    assert destination == seal.path
    assert os.path.dirname(source) == os.path.dirname(seal.path)
    assert os.listdir(os.path.dirname(seal.path)) == ['manifest.json']


def test_a_failed_write_leaves_the_old_manifest_and_no_temporary_file(seal, monkeypatch):
    seal()
    with open(seal.path) as handle:
        original = handle.read()

    def failing_replace(source, destination):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(image_manifest_utils.os, 'replace', failing_replace)

    with pytest.raises(ImageManifestError, match='cannot write .*No space left on device'):
        seal(version='1.3.0')

    with open(seal.path) as handle:
        assert handle.read() == original
    assert os.listdir(os.path.dirname(seal.path)) == ['manifest.json']


def test_check_mode_computes_everything_and_writes_nothing(seal, dpkg):
    result = seal(check_mode=True)

    assert result['changed'] is True
    assert validate_manifest(result['manifest']) == []
    assert result['manifest']['packages']['nginx'] == '1.22.1-9'
    assert not os.path.exists(os.path.dirname(seal.path))


def test_check_mode_leaves_an_existing_manifest_alone(seal):
    seal()
    with open(seal.path) as handle:
        original = handle.read()

    result = seal(version='2.0.0', check_mode=True)

    assert result['changed'] is True
    with open(seal.path) as handle:
        assert handle.read() == original
    assert seal(check_mode=True)['changed'] is False


def test_diff_has_the_json_text_before_and_after(seal):
    first = seal()
    second = seal(version='1.3.0', now=lambda: SECOND_BAKE)

    assert first['diff']['before'] == ''
    assert json.loads(first['diff']['after']) == first['manifest']
    assert second['diff']['before'] == first['diff']['after']
    assert json.loads(second['diff']['after'])['version'] == '1.3.0'


def test_state_absent_removes_the_manifest(seal):
    seal()

    check = seal(state='absent', check_mode=True)
    assert check['changed'] is True
    assert os.path.exists(seal.path)

    result = seal(state='absent')
    assert result['changed'] is True
    assert result['manifest'] == {}
    assert result['diff']['after'] == ''
    assert not os.path.exists(seal.path)

    assert seal(state='absent')['changed'] is False


def test_a_missing_managed_file_is_an_error_that_names_it(seal, tmp_path):
    missing = str(tmp_path / 'etc' / 'nginx' / 'conf.d' / 'gone.conf')

    with pytest.raises(ImageManifestError, match='managed_files: %s does not exist' % missing):
        seal(managed_files=[missing])
    assert not os.path.exists(seal.path)


@pytest.mark.parametrize('bad, message', [
    ('etc/nginx/nginx.conf', 'not an absolute path'),
    ('/', 'not a regular file'),
])
def test_managed_files_must_be_absolute_regular_files(seal, bad, message):
    with pytest.raises(ImageManifestError, match=message):
        seal(managed_files=[bad])


@pytest.mark.parametrize('version', [
    '0.0.0', '1.2.0', '10.20.30', '1.2.0-rc.1', '1.0.0-alpha.beta', '1.0.0-0.3.7', '1.0.0-x-y-z.--',
    '1.2.0+build.5', '1.0.0-rc.1+build.1', '1.0.0+0.build.1-rc.10000aaa-kk-0.1',
])
def test_accepts_semantic_versions(seal, version):
    assert seal(version=version)['manifest']['version'] == version


@pytest.mark.parametrize('version', [
    '1.2', '1', 'v1.2.0', '01.2.0', '1.02.0', '1.2.00', '1.2.0-', '1.2.0+', '1.2.0-01', '1.2.0-rc..1',
    '1.2.0\n', ' 1.2.0', '1.2.0 ', '1.2.0_build.5', '\u0661.2.0', 'latest',
])
def test_rejects_anything_else_as_version(seal, version):
    with pytest.raises(ImageManifestError, match='not a semantic version'):
        seal(version=version)
    assert not os.path.exists(seal.path)


@pytest.mark.parametrize('built', ['2026-11-26 15:11:00Z', '2026-11-26T15:11:00+00:00', '2026-13-01T00:00:00Z',
                                   'yesterday'])
def test_rejects_a_built_time_that_is_not_rfc3339_utc(seal, built):
    with pytest.raises(ImageManifestError, match='built'):
        seal(built=built)


@pytest.mark.parametrize('missing', ['name', 'version', 'revision', 'bake_key', 'parent_image'])
def test_state_present_needs_the_identity_of_the_image(seal, missing):
    with pytest.raises(ImageManifestError, match='state=present needs %s' % missing):
        seal(**{missing: None})


def test_a_bake_key_that_is_not_sha256_is_an_error(seal):
    with pytest.raises(ImageManifestError, match='bake_key'):
        seal(bake_key='sha256:' + BAKE_KEY)


def test_a_relative_path_is_an_error(seal):
    with pytest.raises(ImageManifestError, match='path'):
        seal(path='manifest.json')


VALID = {
    'schema': 1,
    'name': 'web',
    'version': '1.2.0',
    'revision': 'abc123',
    'bake_key': BAKE_KEY,
    'parent_image': 'sha256:' + 'ab' * 32,
    'roles': ['nginx'],
    'packages': {'nginx': '1.22.1-9'},
    'files': {'/etc/nginx/nginx.conf': BAKE_KEY},
    'built': FIRST_BAKE,
}


def with_changes(**changes):
    data = copy.deepcopy(VALID)
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return data


def test_validate_manifest_accepts_a_valid_manifest():
    assert validate_manifest(VALID) == []


@pytest.mark.parametrize('data, expected', [
    ([], 'not a JSON object'),
    (with_changes(name=KeyError, files=KeyError), 'missing keys: name, files'),
    (with_changes(extra=1), 'unknown keys: extra'),
    (with_changes(schema=2), 'schema'),
    (with_changes(schema=True), 'schema'),
    (with_changes(schema='1'), 'schema'),
    (with_changes(name=''), 'name: expected a non-empty string'),
    (with_changes(revision=42), 'revision: expected a non-empty string'),
    (with_changes(version='1.2'), "version: '1.2' is not a semantic version"),
    (with_changes(bake_key='xyz'), 'bake_key'),
    (with_changes(built='2026-11-26'), 'built'),
    (with_changes(roles='nginx'), 'roles'),
    (with_changes(roles=['nginx', 3]), 'roles'),
    (with_changes(packages=['nginx']), 'packages'),
    (with_changes(packages={'nginx': 1}), 'packages'),
    (with_changes(files=['/etc/x']), 'files'),
    (with_changes(files={'/etc/x': 'not-hex'}), 'the checksum of /etc/x is not a sha256 checksum'),
    (with_changes(files={'/etc/x': BAKE_KEY.upper()}), 'the checksum of /etc/x is not a sha256 checksum'),
    (with_changes(files={'/etc/x': BAKE_KEY[:-1]}), 'the checksum of /etc/x is not a sha256 checksum'),
    (with_changes(files={'etc/x': BAKE_KEY}), "'etc/x' is not an absolute path"),
])
def test_validate_manifest_names_each_problem(data, expected):
    problems = validate_manifest(data)

    assert len(problems) == 1, problems
    assert expected in problems[0]


def test_validate_manifest_lists_every_problem_at_once():
    problems = validate_manifest(with_changes(version='one', files={'/etc/x': 'nope'}, roles=None))

    assert len(problems) == 3

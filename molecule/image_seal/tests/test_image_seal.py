# -*- coding: utf-8 -*-
"""Testinfra checks of the image_seal Molecule scenario: a clean seal, and a seal refused on a planted secret."""

import json

import pytest

MANIFEST = "/etc/immutable-infra/manifest.json"
OUTCOMES = "/var/lib/image-seal-test/"
CLEAN_HOST = "mol-seal-clean"
SECRET_HOST = "mol-seal-secret"


@pytest.fixture
def hostname(host):
    return host.backend.get_hostname()


@pytest.fixture
def sealed(host, hostname):
    if hostname != CLEAN_HOST:
        pytest.skip("the seal is refused on this instance")
    return host


def _entries(host, folder):
    return host.check_output("find %s -mindepth 1 -maxdepth 1 -printf '%%P\\n'" % folder).split()


def test_seal_without_identity_is_refused(host, hostname):
    if hostname != SECRET_HOST:
        pytest.skip("converge.yml tries it on %s only" % SECRET_HOST)
    outcome = host.file(OUTCOMES + "no-identity").content_string
    assert outcome.startswith("refused:")
    assert "image_seal_version (bake variable version) is empty" in outcome


def test_apt_lists_and_caches_are_gone(sealed):
    assert _entries(sealed, "/var/lib/apt/lists") == []
    assert _entries(sealed, "/var/cache/apt") == []


def test_next_bake_sees_the_package_lists_as_stale(sealed):
    # apt's cache_valid_time compares against the stamp, or else the lists folder's time.
    assert not sealed.file("/var/lib/apt/periodic/update-success-stamp").exists
    assert sealed.check_output("stat -c %Y /var/lib/apt/lists") == "0"


def test_logs_are_empty_but_kept(sealed):
    assert sealed.file("/var/log/seal-test.log").exists
    assert sealed.file("/var/log/seal-test.log").size == 0
    assert sealed.check_output("find /var/log -type f -size +0") == ""


def test_temporary_folders_are_empty(sealed):
    assert _entries(sealed, "/tmp") == []
    assert _entries(sealed, "/var/tmp") == []


def test_histories_are_gone(sealed):
    for path in ("/root/.bash_history", "/root/.python_history", "/home/ops/.bash_history"):
        assert not sealed.file(path).exists, path


def test_ssh_host_keys_are_gone(sealed):
    assert sealed.check_output("find /etc/ssh -name 'ssh_host_*'") == ""


def test_machine_id_is_empty(sealed):
    machine_id = sealed.file("/etc/machine-id")
    assert machine_id.is_file
    assert machine_id.size == 0
    assert not sealed.file("/var/lib/dbus/machine-id").exists


def test_ansible_and_python_leftovers_are_gone(sealed):
    assert not sealed.file("/root/.ansible").exists
    assert not sealed.file("/root/tools/__pycache__").exists
    assert sealed.file("/root/tools/tool.py").exists


def test_allowlisted_example_key_does_not_stop_the_seal(sealed):
    assert sealed.file("/srv/fixtures/aws-example.env").exists
    assert not sealed.file(OUTCOMES + "seal").exists
    assert sealed.file(MANIFEST).exists


def test_manifest_records_the_bake(sealed):
    manifest_file = sealed.file(MANIFEST)
    assert manifest_file.user == "root"
    assert manifest_file.mode == 0o644
    manifest = json.loads(manifest_file.content_string)
    assert set(manifest) == {"schema", "name", "version", "revision", "bake_key", "parent_image", "roles",
                             "packages", "files", "built"}
    assert manifest["schema"] == 1
    assert manifest["name"] == "seal-test"
    assert manifest["version"] == "1.2.0-rc.1"
    assert manifest["revision"] == "0123456789abcdef0123456789abcdef01234567"
    assert manifest["bake_key"] == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    assert manifest["parent_image"] == "sha256:6a4c1e1f0f1d0a4e4b0c8f1e9d2a1b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"
    assert manifest["built"] == "2026-11-26T15:11:00Z"
    assert manifest["roles"] == ["base", "image_seal"]


def test_manifest_checksums_match_the_files(sealed):
    manifest = json.loads(sealed.file(MANIFEST).content_string)
    assert list(manifest["files"]) == ["/etc/seal-test/app.conf"]
    for path, checksum in manifest["files"].items():
        assert sealed.file(path).sha256sum == checksum


def test_manifest_packages_match_dpkg(sealed):
    manifest = json.loads(sealed.file(MANIFEST).content_string)
    for name in ("python3", "dpkg", "python3-apt"):
        assert manifest["packages"][name] == sealed.package(name).version


def test_secret_fails_the_seal(host, hostname):
    if hostname != SECRET_HOST:
        pytest.skip("no secret was planted on this instance")
    outcome = host.file(OUTCOMES + "seal").content_string
    assert outcome.startswith("refused:")
    assert "/root/deploy_key" in outcome
    assert "private_key" in outcome
    assert "/srv/fixtures/aws-example.env" not in outcome
    assert not host.file(MANIFEST).exists

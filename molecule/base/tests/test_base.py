# -*- coding: utf-8 -*-
"""Testinfra checks of the base Molecule scenario: one image without SSH, one with a hardened SSH server."""

import json

import pytest

SSH_HOST = "mol-base-ssh"


@pytest.fixture
def ssh_enabled(host):
    return host.backend.get_hostname() == SSH_HOST


def test_service_account_is_non_root_without_login_shell(host):
    user = host.user("app")
    assert user.exists
    assert user.uid == 10001
    assert user.gid == 10001
    assert user.group == "app"
    assert user.shell == "/usr/sbin/nologin"
    assert user.home == "/srv/app"
    assert user.uid != 0 and "root" not in user.groups
    home = host.file("/srv/app")
    assert home.is_directory
    assert home.user == "app"
    assert home.mode == 0o750


def test_timezone(host):
    assert host.file("/etc/timezone").content_string == "Etc/UTC\n"
    localtime = host.file("/etc/localtime")
    assert localtime.is_symlink
    assert localtime.linked_to == "/usr/share/zoneinfo/Etc/UTC"
    assert host.check_output("date +%Z") == "UTC"
    assert host.package("tzdata").is_installed


def test_locale(host):
    locale = host.file("/etc/default/locale")
    assert locale.mode == 0o644
    assert "LANG=C.UTF-8" in locale.content_string.splitlines()


def test_apt_is_non_interactive_and_minimal(host):
    assert host.file("/etc/apt/apt.conf.d/90immutable-noninteractive").exists
    config = host.check_output("apt-config dump")
    assert 'APT::Install-Recommends "false";' in config
    assert 'APT::Install-Suggests "false";' in config
    assert 'APT::Get::Assume-Yes "true";' in config
    assert "debconf/frontend: Noninteractive" in host.check_output("debconf-show debconf")


def test_no_automatic_upgrades(host):
    assert not host.package("unattended-upgrades").is_installed
    assert host.file("/etc/apt/apt.conf.d/99immutable-no-periodic").exists
    # prepare.yml planted 20auto-upgrades with "1": the role's file has to win.
    config = host.check_output("apt-config dump")
    for key in ("Enable", "Update-Package-Lists", "Download-Upgradeable-Packages", "Unattended-Upgrade"):
        assert 'APT::Periodic::%s "0";' % key in config


def test_minimal_packages_without_recommends(host, ssh_enabled):
    for name in ("ca-certificates", "tzdata", "procps"):
        assert host.package(name).is_installed
    # Recommended by procps and by openssh-server: installing without recommends keeps them out.
    recommended = ["psmisc"] + (["xauth", "ncurses-term"] if ssh_enabled else [])
    for name in recommended:
        assert not host.package(name).is_installed, name


def test_managed_files_are_recorded(host, ssh_enabled):
    recorded = json.loads(host.file("/var/lib/base-test/managed-files.json").content_string)
    expected = {
        "/etc/apt/apt.conf.d/90immutable-noninteractive",
        "/etc/apt/apt.conf.d/99immutable-no-periodic",
        "/etc/default/locale",
        "/etc/localtime",
        "/etc/timezone",
    }
    if ssh_enabled:
        expected |= {"/etc/ssh/sshd_config", "/etc/systemd/system/ssh.service.d/immutable-host-keys.conf"}
    assert set(recorded) == expected
    for path in recorded:
        assert host.file(path).is_file


def test_no_ssh_server_unless_enabled(host, ssh_enabled):
    if ssh_enabled:
        pytest.skip("this instance has SSH enabled")
    assert not host.package("openssh-server").is_installed
    assert not host.file("/etc/ssh/sshd_config").exists


def _sshd_settings(host):
    settings = {}
    for line in host.check_output("/usr/sbin/sshd -T").splitlines():
        key, _separator, value = line.partition(" ")
        settings.setdefault(key, []).append(value)
    return settings


def test_ssh_server_is_hardened(host, ssh_enabled):
    if not ssh_enabled:
        pytest.skip("this instance has no SSH server")
    assert host.package("openssh-server").is_installed
    assert host.file("/etc/ssh/sshd_config").mode == 0o644
    settings = _sshd_settings(host)
    assert settings["permitrootlogin"] == ["no"]
    assert settings["passwordauthentication"] == ["no"]
    assert settings["kbdinteractiveauthentication"] == ["no"]
    assert settings["authenticationmethods"] == ["publickey"]
    assert settings["x11forwarding"] == ["no"]
    assert settings["allowagentforwarding"] == ["no"]
    assert settings["allowtcpforwarding"] == ["no"]
    assert settings["maxauthtries"] == ["3"]
    assert settings["allowusers"] == ["ops", "deploy"]
    ciphers = settings["ciphers"][0].split(",")
    assert ciphers and not any(cipher.endswith("-cbc") or "3des" in cipher for cipher in ciphers)
    macs = settings["macs"][0].split(",")
    assert macs and all(mac.endswith("-etm@openssh.com") for mac in macs)
    kex = settings["kexalgorithms"][0].split(",")
    assert kex and not any("sha1" in algorithm for algorithm in kex)


def test_sshd_configuration_passes_sshd_t(host, ssh_enabled):
    if not ssh_enabled:
        pytest.skip("this instance has no SSH server")
    assert host.run("/usr/sbin/sshd -t").rc == 0


def test_instances_generate_their_own_host_keys(host, ssh_enabled):
    if not ssh_enabled:
        pytest.skip("this instance has no SSH server")
    dropin = host.file("/etc/systemd/system/ssh.service.d/immutable-host-keys.conf").content_string
    assert "ExecStartPre=/usr/bin/ssh-keygen -A" in dropin

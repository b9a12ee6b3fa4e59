# -*- coding: utf-8 -*-
"""Image tests of base: sealed, a non-root service user, no SSH server, no automatic upgrades."""

from sealed import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import


def test_service_user_is_not_root(host):
    user = host.user('app')
    assert user.uid != 0
    assert user.shell == '/usr/sbin/nologin'


def test_no_ssh_server_and_no_unattended_upgrades(host):
    assert not host.package('openssh-server').is_installed
    assert not host.package('unattended-upgrades').is_installed

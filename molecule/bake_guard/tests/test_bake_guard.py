# -*- coding: utf-8 -*-
"""Testinfra checks of the bake_guard Molecule scenario: what the guard let through and what it refused."""

OUTCOMES = "/var/lib/bake-guard-test/"


def _outcome(host, name):
    return host.file(OUTCOMES + name).content_string.strip()


def test_test_context_passes_on_an_unsealed_host(host):
    if host.backend.get_hostname() != "mol-bake-guard-open":
        return
    assert _outcome(host, "test-context") == "passed"
    assert not host.file("/etc/immutable-infra/manifest.json").exists


def test_sealed_host_is_refused_even_in_test_context(host):
    if host.backend.get_hostname() != "mol-bake-guard-sealed":
        return
    outcome = _outcome(host, "test-context")
    assert outcome.startswith("refused:")
    assert "sealed-image marker" in outcome
    assert "bake a new image version" in outcome


def test_no_context_is_refused_everywhere(host):
    outcome = _outcome(host, "no-context")
    assert outcome.startswith("refused:")
    if host.backend.get_hostname() == "mol-bake-guard-open":
        assert "not an image bake" in outcome

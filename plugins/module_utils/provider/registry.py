# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider registry: the one place that turns a ``provider`` option into a fleet provider and an image store.

Modules, the ``immutable.infra.image`` lookup and the ``immutable.infra.fleet`` inventory plugin name a provider
(option ``provider``, default ``docker``) and get what they need from here; none of them imports an engine's SDK
or a provider's module (``tests/unit/plugins/test_provider_imports.py`` checks it).

A registered provider is a *connection* class: ``Connection(params)`` connects once (``params`` are the module's
options: ``repository`` and the provider's own, such as ``docker_host``) and offers ``provider()`` (the fleet
``Provider``) and ``image_store()`` (the image catalog), which share that connection. The class also declares
``name`` and ``capabilities`` (``provider.CAPABILITIES``), so a spec is checked against a provider before
anything is reached.

A new provider (Docker Swarm, AWS) is one more entry in ``PROVIDERS``: an import below (modules are bundled by
the imports they make, so the registry imports every provider it names) and its name.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError
from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import DockerConnection

DEFAULT_PROVIDER = 'docker'

# name -> connection class (name, capabilities, provider(), image_store()).
PROVIDERS = {
    DockerConnection.name: DockerConnection,
}


class UnknownProviderError(ProviderError, ImageStoreError):
    """The ``provider`` option names no registered provider. It is both a ProviderError and an ImageStoreError,
    so every caller that reports engine errors reports it."""


def provider_names():
    """The registered provider names, sorted (the ``provider`` option's choices)."""
    return sorted(PROVIDERS)


def _connection_class(name):
    if name is None:
        name = DEFAULT_PROVIDER
    try:
        return PROVIDERS[name]
    except (KeyError, TypeError):
        raise UnknownProviderError('unknown provider %r: the known providers are %s (option provider, variable '
                                   'immutable_provider)' % (name, ', '.join(provider_names())))


def capabilities(name=DEFAULT_PROVIDER):
    """The frozenset of capabilities provider ``name`` declares, without connecting to anything."""
    return frozenset(_connection_class(name).capabilities)


def connect(name=DEFAULT_PROVIDER, params=None):
    """Connect to provider ``name`` with ``params`` (a module's or plugin's options); returns the connection,
    whose ``provider()`` and ``image_store()`` share it. Raises UnknownProviderError, or the provider's error
    when its engine cannot be reached (Docker: ImageStoreError)."""
    return _connection_class(name)(dict(params or {}))


def get_provider(name=DEFAULT_PROVIDER, params=None):
    """The fleet ``Provider`` of provider ``name`` (see ``connect``)."""
    return connect(name, params).provider()


def get_image_store(name=DEFAULT_PROVIDER, params=None):
    """The image store of provider ``name`` (see ``connect``)."""
    return connect(name, params).image_store()

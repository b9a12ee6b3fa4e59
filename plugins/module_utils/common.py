# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument-spec pieces shared by the controller modules (documented in doc_fragments/engine.py)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import DEFAULT_PROVIDER, provider_names


def engine_argument_spec(**extra):
    """The engine options every controller module takes, plus the module's own ``extra`` options."""
    spec = dict(
        provider=dict(type='str', default=DEFAULT_PROVIDER, choices=provider_names()),
        docker_host=dict(type='str'),
        repository=dict(type='str', default='immutable'),
    )
    spec.update(extra)
    return spec

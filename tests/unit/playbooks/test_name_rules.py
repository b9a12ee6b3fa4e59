# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One rule per name: the playbooks that check an image or channel name before calling a module use the catalog's
own regular expressions (channels.NAME_RE, channels.CHANNEL_RE), anchored, so a playbook never accepts or refuses a
name the modules judge otherwise. (The reserved channel names, latest, verified-* and failed-*, are refused by the
module: channels.channel_problem is the whole rule.)"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import re

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import channels, fleet

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..'))


def checked_patterns(playbook, variable):
    """The regular expressions of ``VARIABLE is match('...')`` tests in ``playbook``."""
    with open(os.path.join(ROOT, 'playbooks', playbook)) as handle:
        text = handle.read()
    return re.findall(r"\b%s is match\('([^']*)'\)" % re.escape(variable), text)


@pytest.mark.parametrize('playbook, variable, rule', [
    ('promote.yml', 'image', channels.NAME_RE),
    ('promote.yml', 'channel', channels.CHANNEL_RE),
    ('prune.yml', 'image', channels.NAME_RE),
])
def test_playbook_checks_use_the_catalog_s_rule(playbook, variable, rule):
    patterns = checked_patterns(playbook, variable)
    assert patterns, 'playbooks/%s no longer checks %s with a regular expression: drop this case' % (playbook, variable)
    assert patterns == ['^%s$' % rule.pattern] * len(patterns)


def test_fleet_names_image_names_and_channels_by_the_catalog_s_rule():
    """fleet.py has no rule of its own for image and channel names: it calls the catalog's."""
    assert fleet.check_name is channels.check_name
    assert fleet.channel_problem is channels.channel_problem
    for channel in ('latest', 'verified-1.0.0', 'failed-1.0.0', '1.0.0', 'Prod'):
        assert channels.channel_problem(channel)
        with pytest.raises(fleet.FleetError, match='not a channel name'):
            fleet.resolve_spec('web', {'image': 'web', 'channel': channel, 'lb_version': '1.0.0'})

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Image catalog filters: image_table, channel_table, history_table, prune_table.

Each filter is documented in its own sidecar file next to this one (image_table.yml, ...).
The logic lives in module_utils/catalog.py.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.immutable.infra.plugins.module_utils import catalog


def _table(name, layout, value):
    try:
        return layout(value)
    except catalog.CatalogError as e:
        raise AnsibleFilterError('%s: %s' % (name, e)) from e


def image_table(value):
    """The images of image_info as the lines of a text table."""
    return _table('image_table', catalog.image_table, value)


def channel_table(value):
    """The channels of image_info as the lines of a text table."""
    return _table('channel_table', catalog.channel_table, value)


def history_table(value):
    """The history of one channel (image_channel, image_info) as the lines of a text table."""
    return _table('history_table', catalog.history_table, value)


def prune_table(value):
    """The result of image_prune as the lines of a text table."""
    return _table('prune_table', catalog.prune_table, value)


class FilterModule:
    """Image catalog filters."""

    def filters(self):
        return {
            'image_table': image_table,
            'channel_table': channel_table,
            'history_table': history_table,
            'prune_table': prune_table,
        }

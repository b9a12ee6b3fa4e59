# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.immutable.infra.plugins.filter import catalog as catalog_filter

FILTERS = catalog_filter.FilterModule().filters()
FILTER_NAMES = ['image_table', 'channel_table', 'history_table', 'prune_table']


def test_filter_module_exposes_the_documented_filters():
    assert sorted(FILTERS) == sorted(FILTER_NAMES)


@pytest.mark.parametrize('name', FILTER_NAMES)
def test_each_filter_has_its_sidecar_documentation(name):
    sidecar = os.path.join(os.path.dirname(catalog_filter.__file__), name + '.yml')
    with open(sidecar) as handle:
        assert 'name: %s\n' % name in handle.read()


@pytest.mark.parametrize('name', FILTER_NAMES)
def test_bad_input_is_a_filter_error_naming_the_filter(name):
    with pytest.raises(AnsibleFilterError, match='^%s: expected' % name):
        FILTERS[name]('not a list')


def test_image_table_filter():
    assert FILTERS['image_table']([])[0].startswith('NAME')

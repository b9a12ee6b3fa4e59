# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import pytest

from module_harness import patch_exits


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    """Every module test: exit_json and fail_json raise (module_harness.run_module catches them)."""
    patch_exits(monkeypatch)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in-process: exit_json and fail_json raise instead of exiting (conftest.py patches them
for every test in this folder), and run_module returns what the module would have printed."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import json

from ansible.module_utils import basic

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        saved = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args or {}}))
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = saved


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


def patch_exits(monkeypatch):
    def exit_json(self, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs['msg'] = msg
        raise FailJson(kwargs)

    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)


def run_module(module, args):
    """Run ``module.main()`` with ``args``; return ('exit' or 'fail', the result)."""
    with patch_module_args(args):
        try:
            module.main()
        except ExitJson as exc:
            return 'exit', exc.args[0]
        except FailJson as exc:
            return 'fail', exc.args[0]
    raise AssertionError('main() returned without exit_json or fail_json')

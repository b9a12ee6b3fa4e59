# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/architecture.md names only code that exists.

The rule, kept simple on purpose; two kinds of backticked references are checked:

- ``module.name`` (or ``module.name()``) where ``module`` is the file name of a Python file under plugins/
  (``fleet.rolling_step``, ``drift.DEFAULT_RUNTIME_PATHS``): that file must define ``name`` at its top level
  (a function, class or constant).
- ``name(...)`` with no module and no quote in its arguments (``read_history(fleet)``, ``main()``): some Python
  file under plugins/ must define a function or method ``name``.

Anything else in backticks is not checked: file names (``rollout.py``, ``drift.yml``), spec fields
(``health.path``), Jinja or Ansible expressions (``lookup('ansible.builtin.template', ...)``, quoted arguments),
bare names without parentheses.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import ast
import glob
import os
import re

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
DOC = os.path.join(ROOT, 'docs', 'architecture.md')
SPANS = re.compile(r'`([^`]+)`')
DOTTED = re.compile(r'''([a-z_][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)(?:\([^'"]*\))?''', re.S)
CALL = re.compile(r'''([A-Za-z_][A-Za-z0-9_]*)\([^'"]*\)''', re.S)
FILE_NAME = re.compile(r'.*\.(?:py|yml|yaml|json|md|j2|hcl|cfg|txt)')


def python_files():
    """File name (without .py) -> paths, for every Python file under plugins/ (a package by its folder name)."""
    files = {}
    for path in glob.glob(os.path.join(ROOT, 'plugins', '**', '*.py'), recursive=True):
        name = os.path.splitext(os.path.basename(path))[0]
        if name == '__init__':
            name = os.path.basename(os.path.dirname(path))
        files.setdefault(name, []).append(path)
    return files


def definitions(path):
    """``(top-level names, every function and method name)`` defined in one file."""
    with open(path) as handle:
        tree = ast.parse(handle.read())
    top = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top.add(node.name)
        elif isinstance(node, ast.Assign):
            top.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            top.update((a.asname or a.name).split('.')[0] for a in node.names)
    functions = set(n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    return top, functions


def references():
    """``(dotted, calls)``: the ``module.name`` and ``name(...)`` references of the doc, as defined above."""
    with open(DOC) as handle:
        spans = SPANS.findall(handle.read())
    modules = python_files()
    dotted, calls = set(), set()
    for span in spans:
        if FILE_NAME.fullmatch(span):
            continue
        match = DOTTED.fullmatch(span)
        if match and match.group(1) in modules:
            dotted.add(match.groups())
            continue
        match = CALL.fullmatch(span)
        if match and '.' not in match.group(1):
            calls.add(match.group(1))
    return dotted, calls


def test_the_rule_finds_references():
    dotted, calls = references()
    assert ('fleet', 'rolling_step') in dotted and 'main' in calls


def test_every_python_reference_of_the_architecture_doc_exists():
    modules = python_files()
    dotted, calls = references()
    every_function = set()
    for paths in modules.values():
        for path in paths:
            every_function |= definitions(path)[1]
    missing = []
    for module, name in sorted(dotted):
        if not any(name in definitions(path)[0] for path in modules[module]):
            missing.append('%s.%s' % (module, name))
    missing += ['%s()' % name for name in sorted(calls) if name not in every_function]
    assert missing == [], 'docs/architecture.md names code that does not exist: %s' % ', '.join(missing)

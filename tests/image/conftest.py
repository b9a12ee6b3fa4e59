# -*- coding: utf-8 -*-
"""The fixtures of the collection's image tests: tests/image/image_fixtures.py (a plugin for a project's tests)."""

from image_fixtures import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import

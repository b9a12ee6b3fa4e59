# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A snapshot of a folder tree, for tests that assert a run changed nothing (pytest.ini puts tests/unit on the
import path)."""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import os
import stat


def snapshot(root):
    """Every path under ``root``: type, mode, owner, group, inode, size, modification time and content (the bytes
    of a file, the target of a link)."""
    found = {}
    for top, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(top, name)
            info = os.lstat(path)
            content = None
            if stat.S_ISREG(info.st_mode):
                with open(path, 'rb') as handle:
                    content = handle.read()
            elif stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            found[path] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid,
                           info.st_ino, info.st_size, info.st_mtime_ns, content)
    return found

# -*- coding: utf-8 -*-
"""Fixtures every scenario's testinfra tests share (pytest loads this file for molecule/*/tests)."""

import json

import pytest

# Prints [[command line, real uid], ...] for every process of the instance (the images have no ps).
PROCESSES = r"""
import json, os
procs = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode().strip()
        with open("/proc/%s/status" % pid) as f:
            uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
    except OSError:
        continue
    procs.append([cmdline, uid])
print(json.dumps(procs))
"""


@pytest.fixture(scope="session")
def processes_of():
    """processes_of(host) -> [[command line, real uid], ...] of the processes running in that instance."""
    def read(host):
        return json.loads(host.check_output("python3 -c %s", PROCESSES))
    return read

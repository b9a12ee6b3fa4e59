# -*- coding: utf-8 -*-
"""Docker's container states in the provider-neutral vocabulary (pending, running, stopped, failed)."""

import pytest

from ansible_collections.immutable.infra.plugins.module_utils.provider import INSTANCE_STATES, Instance
from ansible_collections.immutable.infra.plugins.module_utils.provider.docker import instance_state


@pytest.mark.parametrize('status, code, oom, signal, state', [
    ('running', 0, False, None, 'running'),
    ('created', 0, False, None, 'pending'),
    ('restarting', 1, False, None, 'pending'),
    ('paused', 0, False, None, 'pending'),
    ('removing', 0, False, None, 'pending'),
    ('exited', 0, False, None, 'stopped'),
    ('exited', 143, False, None, 'stopped'),     # SIGTERM: docker stop
    ('exited', 137, False, None, 'stopped'),     # SIGKILL: docker stop after its timeout, docker kill
    ('exited', 130, False, 'SIGINT', 'stopped'),
    ('exited', 156, False, 'SIGWINCH', 'stopped'),  # the container's own stop signal (28)
    ('exited', 156, False, None, 'failed'),
    ('exited', None, False, None, 'stopped'),    # a listing without the code
    ('exited', 1, False, None, 'failed'),        # crashed
    ('exited', 137, True, None, 'failed'),       # killed for lack of memory
    ('dead', 0, False, None, 'failed'),
])
def test_docker_states_map_to_one_vocabulary(status, code, oom, signal, state):
    assert instance_state(status, code, oom, signal) == state
    assert state in INSTANCE_STATES


def test_an_instance_describes_its_state_with_the_engine_word():
    inst = Instance('web-r1-aaaaaa', 'c1', 'web', 1, '1.0.0', 'sha256:v1', 8080, 'failed', engine_state='exited')
    assert (inst.running, inst.describe_state(), inst.as_dict()['engine_state']) == (False, 'failed (exited)', 'exited')
    assert Instance('a', 'c', 'web', 1, '1.0.0', 'x', 8080, 'running', engine_state='running').describe_state() == 'running'

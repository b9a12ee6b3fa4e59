# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The members half of the ``Traffic`` port over HAProxy's runtime API (``haproxy.RuntimeAPI``).

A provider whose load balancer is the lb image (HAProxy, backend ``be_app``, its runtime API published where
``LoadBalancer.api`` says) gets the member methods by inheriting ``HAProxyTraffic``; it implements the load
balancer's lifecycle (create, remove, roll) itself. The Docker provider does, and so does the unit tests'
in-memory fake, whose ``runtime_api(lb)`` is a stand-in for HAProxy.

What is HAProxy's business stays here: a new server starts in maintenance (``add server``, ``enable health``, then
``state ready``), a server is deleted only in maintenance and without connections (retried, its sessions shut
after a second), several changes in one command line run back to back (a switch), weights are integers and a
share of the traffic is a weight. HAProxy's errors come out as ``TrafficError``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import time

from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError, RuntimeAPI
from ansible_collections.immutable.infra.plugins.module_utils.provider.ports import Traffic, TrafficError

BACKEND = 'be_app'
# HAProxy weights: 100 is normal service (the fleet's NORMAL_WEIGHT), 256 the most a server takes.
NORMAL_WEIGHT = 100
MAX_WEIGHT = 256
# del server is retried while HAProxy still holds connections to the server: 25 times 0.2 s, its sessions shut
# down after the 6th attempt.
DELETE_ATTEMPTS = 25
SHUTDOWN_AFTER = 5


@contextlib.contextmanager
def _haproxy():
    try:
        yield
    except HAProxyError as exc:
        raise TrafficError(str(exc))


def split_weights(groups, normal=NORMAL_WEIGHT, maximum=MAX_WEIGHT):
    """``{name: weight}`` giving each group of ``[(names, percent)]`` its percent of the traffic: a member's weight
    is its group's percent over its group's size, scaled so that the largest is ``normal`` (integers from 1 to
    ``maximum``; 0 for a group at 0 %)."""
    per_member = [(list(names), float(percent) / len(names)) for names, percent in groups if names]
    top = max([share for dummy, share in per_member] or [0])
    weights = {}
    for names, share in per_member:
        weight = 0 if share <= 0 else int(min(maximum, max(1, round(share * normal / top))))
        for name in names:
            weights[name] = weight
    return weights


class HAProxyTraffic(Traffic):
    """The member methods of ``Traffic`` for a load balancer that is HAProxy with a runtime API."""

    def runtime_api(self, lb):
        """The runtime API client of ``lb`` (``LoadBalancer.api`` is where the controller reaches it)."""
        return RuntimeAPI(lb.api[0], lb.api[1], BACKEND)

    def _api(self, lb):
        if not self.reachable(lb):
            raise TrafficError('the load balancer %s is not running or has no runtime API'
                               % (lb.name if lb is not None else '(none)'))
        return self.runtime_api(lb)

    def reachable(self, lb):
        return lb is not None and lb.running and bool(lb.api)

    def wait_ready(self, lb, timeout=15.0, sleep=time.sleep, clock=time.monotonic):
        with _haproxy():
            self._api(lb).wait_ready(timeout=timeout, sleep=sleep, clock=clock)

    def members(self, lb, counters=True):
        # show servers state (admin and operational state, weight), merged with show stat's counters.
        with _haproxy():
            api = self._api(lb)
            return api.servers() if counters else api.show_servers_state()

    def counters(self, lb):
        with _haproxy():
            return self._api(lb).show_stat()

    def add_members(self, lb, members, weight, check, sleep=time.sleep):
        with _haproxy():
            api = self._api(lb)
            existing = api.show_servers_state()
            for member in members:
                if member['name'] in existing:
                    self._delete(api, member['name'], sleep)
                api.add_server(member['name'], member['address'], member['port'], weight, check)
            api.apply([('state', m['name'], 'ready') for m in members])

    def set_weights(self, lb, weights):
        with _haproxy():
            self._api(lb).apply([('weight', name, weight) for name, weight in weights.items()])

    def drain(self, lb, names):
        with _haproxy():
            api = self._api(lb)
            servers = api.show_servers_state()
            in_lb = [n for n in names if n in servers]
            if in_lb:
                api.apply([('state', n, 'drain') for n in in_lb if servers[n]['admin'] != 'maint'])
            return in_lb

    def remove_member(self, lb, name, sleep=time.sleep):
        with _haproxy():
            self._delete(self._api(lb), name, sleep)

    @staticmethod
    def _delete(api, name, sleep):
        """maint + del server, retried while HAProxy still holds connections to it; a missing one is no error."""
        try:
            api.set_state(name, 'maint')
        except HAProxyError as exc:
            if 'No such server' in str(exc):
                return
            raise
        for attempt in range(DELETE_ATTEMPTS):
            try:
                api.del_server(name)
                return
            except HAProxyError as exc:
                if 'No such server' in str(exc):
                    return
                if attempt == DELETE_ATTEMPTS - 1:
                    raise
                if attempt == SHUTDOWN_AFTER:
                    api.shutdown_sessions(name)
                sleep(0.2)

    def switch(self, lb, weights, drain):
        # One command line: HAProxy runs the changes back to back.
        with _haproxy():
            self._api(lb).apply([('weight', name, weight) for name, weight in weights.items()] +
                                [('state', name, 'drain') for name in drain])

    def split(self, lb, groups):
        weights = split_weights(groups)
        self.set_weights(lb, weights)
        return weights

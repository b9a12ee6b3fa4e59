# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider ports: the small interfaces the fleet code (rollout, heal, drift, prune, the inventory) calls.

- ``Compute``: a fleet's instances (list, create, start, stop, remove, diff), states in one vocabulary
  (``provider.INSTANCE_STATES``: pending, running, stopped, failed), filesystem changes as ``provider.CHANGES``.
- ``Traffic``: the fleet's load balancer (create, replace, roll) and its members: with health and how long they
  have been down, per-member counters; add, re-weight, drain, remove, switch a set in one step, split the
  traffic by revision group as percentages.
- ``Records``: the fleet's lock and revision history, kept by the provider itself.
- ``Probe``: the health gate's check of one instance; ``HttpProbe`` (the controller's GET on the published port)
  is the default, a provider may offer its own (``Provider.probe``).

``provider.Provider`` is the three provider ports together (one object, ``name`` and ``capabilities``). What a port
offers beyond its methods is declared as capabilities (``provider.CAPABILITIES``), which the fleet code checks
before it plans. Every method raises ``ProviderError`` (``TrafficError`` for the load balancer's members).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import abc
import time
import typing

try:
    import http.client as http_client
except ImportError:  # pragma: no cover - Python 2 is not supported on the controller
    http_client = None

if typing.TYPE_CHECKING:  # pragma: no cover - names for the type hints only
    from ansible_collections.immutable.infra.plugins.module_utils.provider import Instance, LoadBalancer

# A member of a load balancer, as ``Traffic.members`` gives it:
#   address, port   where the load balancer reaches it
#   admin           ready (serves), drain (finishes its sessions, no new ones) or maint (no traffic)
#   up              the load balancer's own health check sees it up
#   weight          its weight (NORMAL_WEIGHT 100 is normal service, 0 staged without traffic)
#   check_status    the load balancer's last check result, for messages
# and, with counters (``Traffic.counters``): scur (current sessions), responses, errors (5xx and broken responses),
# rtime (mean response time, ms), chkdown (times seen going down), down_for (seconds it has been down, None when up).
Member = typing.Dict[str, typing.Any]


class ProviderError(Exception):
    """The provider could not do what was asked; the message names the object and the engine's answer."""


class TrafficError(ProviderError):
    """The load balancer could not be reached or refused a change to its members; the message has its answer."""


def _name(port):
    """A provider's registry name (its class name when it has none), for messages."""
    return getattr(port, 'name', None) or type(port).__name__


class Compute(abc.ABC):
    """A fleet's instances: identical copies of one image, created, started, stopped and removed, never changed."""

    @abc.abstractmethod
    def instances(self, fleet: str) -> 'typing.List[Instance]':
        """Every instance of ``fleet``, whatever its state, as ``Instance`` objects, oldest first."""

    @abc.abstractmethod
    def create_instance(self, fleet: str, image_id: str, version: str, revision: int,
                        service_port: int) -> 'Instance':
        """Create and start one instance of ``image_id``; returns it running, with endpoint and address."""

    @abc.abstractmethod
    def start_instance(self, instance: 'Instance') -> 'Instance':
        """Start a stopped instance (kept for a fast rollback); returns it refreshed."""

    @abc.abstractmethod
    def stop_instance(self, instance: 'Instance', timeout: float) -> None:
        """Stop an instance, letting it finish for up to ``timeout`` seconds (it is ``stopped`` afterwards)."""

    @abc.abstractmethod
    def remove_instance(self, instance: 'Instance') -> None:
        """Remove an instance for good (stopping it first if needed); a missing one is not an error."""

    @abc.abstractmethod
    def diff(self, instance: 'Instance') -> typing.List[typing.Dict[str, str]]:
        """Read-only: the instance's filesystem changes against its image, ``[{'path': str, 'change': str}]``,
        ``change`` one of ``CHANGES`` (added, changed, deleted); a changed folder is listed as changed."""

    def all_instances(self, include_stopped: bool = False) -> 'typing.List[Instance]':
        """Read-only, for inventories: the instances of every fleet on the engine, whatever their repository, as
        ``Instance`` objects (running ones only unless ``include_stopped``). ``endpoint`` and ``address`` may be
        None: only the names, fleet, revision, version, image and state are needed."""
        raise ProviderError('provider %s cannot list the instances of every fleet' % _name(self))

    def connection_vars(self, instance: 'Instance') -> typing.Dict[str, str]:
        """The host variables Ansible needs to connect into ``instance`` (connection plugin, host), for
        inventories."""
        raise ProviderError('provider %s cannot say how to connect to its instances' % _name(self))


class Traffic(abc.ABC):
    """A fleet's one load balancer and its members (the instances it sends traffic to, by instance name)."""

    # The load balancer ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def load_balancer(self, fleet: str) -> 'typing.Optional[LoadBalancer]':
        """The fleet's ``LoadBalancer`` or None."""

    @abc.abstractmethod
    def create_load_balancer(self, fleet: str, image_id: str, version: str, listen_host: str, listen_port: int,
                             servers: typing.Optional[typing.List[Member]] = None,
                             check: typing.Optional[typing.Dict[str, typing.Any]] = None) -> 'LoadBalancer':
        """Create and start the fleet's load balancer listening on ``listen_host:listen_port``, serving from its
        first request with ``servers`` (``[{name, address, port, weight}]``, health-checked with ``check`` =
        dict(inter, rise, fall, path, status)) already among its members."""

    @abc.abstractmethod
    def remove_load_balancer(self, fleet: str) -> None:
        """Remove the fleet's load balancer; a missing one is not an error."""

    def start_next_load_balancer(self, fleet: str, image_id: str, version: str,
                                 servers: typing.Optional[typing.List[Member]] = None,
                                 check: typing.Optional[typing.Dict[str, typing.Any]] = None) -> 'LoadBalancer':
        """Start a new load balancer of ``image_id`` beside the running one (``can_roll``), on the same listen
        address, seeded like ``create_load_balancer``; returns it (its members are its own). The running one keeps
        serving until ``finish_load_balancer_roll``."""
        raise ProviderError('this provider cannot replace a running load balancer')

    def finish_load_balancer_roll(self, fleet: str, timeout: float) -> 'LoadBalancer':
        """Soft-stop the old load balancer (it finishes its requests, within ``timeout`` seconds) and make the
        one ``start_next_load_balancer`` started the fleet's load balancer; returns it."""
        raise ProviderError('this provider cannot replace a running load balancer')

    # Members ----------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def reachable(self, lb: 'typing.Optional[LoadBalancer]') -> bool:
        """True when the members of ``lb`` can be read and changed (it runs and the controller reaches it)."""

    @abc.abstractmethod
    def wait_ready(self, lb: 'LoadBalancer', timeout: float = 15.0, sleep=time.sleep, clock=time.monotonic) -> None:
        """Wait until ``lb`` answers (starting up); TrafficError after ``timeout`` seconds."""

    @abc.abstractmethod
    def members(self, lb: 'LoadBalancer', counters: bool = True) -> typing.Dict[str, Member]:
        """``{name: member}`` (see ``Member``), with the counters unless ``counters`` is false."""

    @abc.abstractmethod
    def counters(self, lb: 'LoadBalancer') -> typing.Dict[str, Member]:
        """Per-member counters: ``{name: {scur, responses, errors, rtime, chkdown, down_for, check_status}}``."""

    @abc.abstractmethod
    def add_members(self, lb: 'LoadBalancer', members: typing.List[Member], weight: int,
                    check: typing.Optional[typing.Dict[str, typing.Any]], sleep=time.sleep) -> None:
        """Add ``members`` (``[{name, address, port}]``) at ``weight`` with the load balancer's own health check
        ``check`` and put them in service (``ready``); a member of the same name is removed first."""

    @abc.abstractmethod
    def set_weights(self, lb: 'LoadBalancer', weights: typing.Dict[str, int]) -> None:
        """Give members new weights, in one step."""

    @abc.abstractmethod
    def drain(self, lb: 'LoadBalancer', names: typing.List[str]) -> typing.List[str]:
        """Drain the members among ``names`` (no new sessions, the current ones finish); returns the names that are
        members (a member in maintenance stays so)."""

    @abc.abstractmethod
    def remove_member(self, lb: 'LoadBalancer', name: str, sleep=time.sleep) -> None:
        """Take a member out for good (sessions it still holds are cut after a few seconds); a missing one is not an
        error."""

    @abc.abstractmethod
    def switch(self, lb: 'LoadBalancer', weights: typing.Dict[str, int], drain: typing.List[str]) -> None:
        """One step for a whole set (blue/green): members to new ``weights`` and the members ``drain`` drained."""

    @abc.abstractmethod
    def split(self, lb: 'LoadBalancer', groups: typing.List[typing.Tuple[typing.List[str], float]]
              ) -> typing.Dict[str, int]:
        """Share the traffic between revision groups, ``[(member names, percent)]`` (percents add up to 100), in one
        step; returns the weight each member got."""


class Records(abc.ABC):
    """The records a provider keeps for each fleet: its lock and its revision history."""

    @abc.abstractmethod
    def acquire_lock(self, fleet: str, holder: typing.Dict[str, str]) -> None:
        """Take the fleet's lock atomically, labelled with ``holder`` (a dict of strings); LockHeld when taken."""

    @abc.abstractmethod
    def lock_holder(self, fleet: str) -> typing.Optional[typing.Dict[str, str]]:
        """The holder dict of the fleet's lock, or None when unlocked."""

    @abc.abstractmethod
    def release_lock(self, fleet: str, token: typing.Optional[str] = None) -> bool:
        """Release the lock (only when its holder has ``token``, unless token is None: break it); whether it did."""

    @abc.abstractmethod
    def read_history(self, fleet: str) -> typing.List[typing.Dict[str, typing.Any]]:
        """The fleet's revision history: a list of dicts, oldest first ([] when none)."""

    @abc.abstractmethod
    def write_history(self, fleet: str, entries: typing.List[typing.Dict[str, typing.Any]]) -> None:
        """Replace the fleet's revision history with ``entries`` (the newest 50 are kept)."""

    @abc.abstractmethod
    def fleets(self) -> typing.List[str]:
        """Names of the fleets that have anything on this provider, sorted."""

    @abc.abstractmethod
    def forget(self, fleet: str) -> None:
        """Remove what is left of a fleet once its instances are gone (load balancer, lock, history, network)."""


class Probe(abc.ABC):
    """The health gate's check of one instance, at the ``endpoint`` where the controller reaches it."""

    @abc.abstractmethod
    def check(self, host: str, port: int, path: str, timeout: float
              ) -> typing.Tuple[typing.Optional[int], typing.Optional[str]]:
        """``(status, None)`` of the check, or ``(None, error)`` when nothing usable came back."""


def http_status(host, port, path, timeout):
    """``(status, None)`` of GET http://host:port/path, or ``(None, error)`` when nothing usable came back."""
    conn = http_client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request('GET', path, headers={'Connection': 'close', 'User-Agent': 'immutable.infra-health'})
        response = conn.getresponse()
        response.read()
        return response.status, None
    except (OSError, http_client.HTTPException) as exc:
        return None, '%s: %s' % (type(exc).__name__, exc)
    finally:
        conn.close()


class HttpProbe(Probe):
    """The default probe: the controller GETs the health path on the instance's published port (``http_status``).
    ``get`` is the function that does it (tests give a stand-in)."""

    def __init__(self, get=http_status):
        self.get = get

    def check(self, host, port, path, timeout):
        return self.get(host, port, path, timeout)

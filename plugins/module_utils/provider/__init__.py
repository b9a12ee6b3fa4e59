# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance provider interface: what the fleet engine needs from a place that runs instances.

A provider runs a fleet's *instances* (identical copies of one image, never changed once running) and its one
*load balancer*, and keeps two small records in the engine itself: the fleet's *lock* (atomic create, so two
controllers cannot change a fleet at once) and its *revision history*. Those are the ports of ``ports.py``
(``Compute``, ``Traffic``, ``Records``; ``Probe`` for the health gate), which ``Provider`` composes. The local
Docker engine is the embedded default (``provider/docker.py``, its load balancer's members through
``provider/haproxy_traffic.py``); Docker Swarm and AWS implement the same ports.

The engine only creates, starts, stops and removes instances; it never execs into, copies into or reconfigures
one. Instances and load balancers are described by the plain classes below.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

# The label namespace and the labels images and instances share are defined once, in images.py.
from ansible_collections.immutable.infra.plugins.module_utils.images import (  # noqa: F401 (re-exported)
    LABEL_FLEET, LABEL_PREFIX, LABEL_VERSION,
)

from ansible_collections.immutable.infra.plugins.module_utils.provider.ports import (  # noqa: F401 (re-exported)
    Compute, HttpProbe, Probe, ProviderError, Records, Traffic, TrafficError,
)

LABEL_ROLE = LABEL_PREFIX + 'role'
LABEL_REVISION = LABEL_PREFIX + 'revision'
LABEL_IMAGE_ID = LABEL_PREFIX + 'image-id'
LABEL_SERVICE_PORT = LABEL_PREFIX + 'service-port'
LABEL_LISTEN = LABEL_PREFIX + 'listen'
# The image repository a fleet belongs to, on every container, network and record of the fleet.
LABEL_REPOSITORY = LABEL_PREFIX + 'repository'

ROLE_INSTANCE = 'instance'
ROLE_LB = 'lb'
ROLE_LB_HOLDER = 'lb-holder'
ROLE_LOCK = 'lock'

# Capabilities: what a provider can do beyond the methods every provider has. The fleet code asks for them before
# it changes anything (``fleet.check_capabilities``) instead of assuming one engine's features.
# The load balancer gives each member a share of the traffic by weight (a canary's canary_weight %).
WEIGHTED_TRAFFIC = 'weighted_traffic'
# The load balancer counts requests, errors and response times per member (the canary analysis compares them).
TRAFFIC_COUNTERS = 'traffic_counters'
# Members join without traffic (weight 0) and a whole set switches in one step (blue/green).
STAGED_SWITCH = 'staged_switch'
# Stopped instances are kept and started again (blue/green keep_revisions, an instant rollback).
KEEP_STOPPED = 'keep_stopped'
# A running load balancer is replaced by one of a new image without a failed request (a new lb_version).
LB_ROLL = 'lb_roll'
# ``diff(instance)``: an instance's filesystem changes against its image (drift).
FILESYSTEM_DIFF = 'filesystem_diff'
CAPABILITIES = (WEIGHTED_TRAFFIC, TRAFFIC_COUNTERS, STAGED_SWITCH, KEEP_STOPPED, LB_ROLL, FILESYSTEM_DIFF)

# Instance states, one vocabulary for every provider (``Instance.state``); the engine's own word is
# ``Instance.engine_state``. The fleet code compares these words only.
# Not running and not finished either: created and never started, restarting, paused, being removed. Never
# started again by the fleet code: replaced.
PENDING = 'pending'
# Running: it has an endpoint and an address.
RUNNING = 'running'
# Ended cleanly: exited with code 0 or by a stop signal (a stop by the provider, or by hand). A stopped instance
# of an earlier revision is kept for an instant rollback (blue/green) and may be started again.
STOPPED = 'stopped'
# Ended badly: crashed (exited with another code), killed for lack of memory, or dead in the engine. Never
# started again: replaced.
FAILED = 'failed'
INSTANCE_STATES = (PENDING, RUNNING, STOPPED, FAILED)

# A filesystem change of ``diff(instance)``: ``{'path': str, 'change': ADDED | CHANGED | DELETED}``.
ADDED = 'added'
CHANGED = 'changed'
DELETED = 'deleted'
CHANGES = (ADDED, CHANGED, DELETED)


class LockHeld(ProviderError):
    """The fleet's lock exists; ``holder`` is what its labels say (host, pid, started, operation, token)."""

    def __init__(self, fleet, holder):
        super(LockHeld, self).__init__('fleet %s is locked by %s' % (fleet, describe_holder(holder)))
        self.fleet = fleet
        self.holder = holder


def describe_holder(holder):
    """``rollout of web to 1.1.0 (pid 4242 on ci-1, since 2026-11-26T15:11:00Z)``."""
    if not holder:
        return 'nobody'
    return '%s (pid %s on %s, since %s)' % (holder.get('operation') or 'an unknown operation',
                                            holder.get('pid', '?'), holder.get('host', '?'),
                                            holder.get('started', '?'))


def provider_name(provider):
    """The registry name of ``provider`` (its class name when it has none)."""
    return provider.name or type(provider).__name__


class Instance:
    """One instance of a fleet.

    ``state`` is one of ``INSTANCE_STATES`` (pending, running, stopped, failed), whatever the provider;
    ``engine_state`` the provider's own word for it (Docker: ``created``, ``exited``...; None when the provider
    has none), for messages only. ``endpoint`` is the ``(host, port)`` where the controller reaches the service
    port (None when not running); ``address`` the ``(ip, port)`` where the load balancer reaches it.
    """

    def __init__(self, name, id, fleet, revision, version, image_id, service_port, state, endpoint=None,
                 address=None, created=None, labels=None, engine_state=None):
        self.name = name
        self.id = id
        self.fleet = fleet
        self.revision = revision
        self.version = version
        self.image_id = image_id
        self.service_port = service_port
        self.state = state
        self.endpoint = endpoint
        self.address = address
        self.created = created
        self.labels = labels or {}
        self.engine_state = engine_state

    @property
    def running(self):
        return self.state == RUNNING

    def describe_state(self):
        """``stopped``, or with the engine's word when it is another one: ``failed (exited)``."""
        if self.engine_state and self.engine_state != self.state:
            return '%s (%s)' % (self.state, self.engine_state)
        return self.state

    def __repr__(self):
        return 'Instance(%s r%s %s %s)' % (self.name, self.revision, self.version, self.state)

    def age_key(self):
        """Oldest first: revision, then creation time, then name (``sorted(instances, key=Instance.age_key)``)."""
        return (self.revision, self.created or '', self.name)

    def as_dict(self):
        return {
            'name': self.name,
            'id': self.id,
            'revision': self.revision,
            'version': self.version,
            'image_id': self.image_id,
            'service_port': self.service_port,
            'state': self.state,
            'engine_state': self.engine_state,
            'endpoint': '%s:%s' % self.endpoint if self.endpoint else None,
            'address': '%s:%s' % self.address if self.address else None,
            'created': self.created,
        }


class LoadBalancer:
    """A fleet's load balancer: ``api`` and ``stats`` are ``(host, port)`` the controller reaches."""

    def __init__(self, name, id, fleet, image_id, version, listen, state, api=None, stats=None, can_roll=False,
                 health=None):
        self.name = name
        # The health check it runs on its servers, "STATUS PATH" (None: the lb image's default, GET /healthz 200).
        self.health = health
        # The provider can start a new load balancer beside this one on the same listen address and hand the
        # traffic over without a failed request (``roll_load_balancer``).
        self.can_roll = can_roll
        self.id = id
        self.fleet = fleet
        self.image_id = image_id
        self.version = version
        self.listen = listen
        self.state = state
        self.api = api
        self.stats = stats

    @property
    def running(self):
        return self.state == 'running'

    def as_dict(self):
        return {
            'name': self.name,
            'id': self.id,
            'image_id': self.image_id,
            'version': self.version,
            'listen': self.listen,
            'state': self.state,
            'api': '%s:%s' % self.api if self.api else None,
            'stats': '%s:%s' % self.stats if self.stats else None,
            'can_roll': self.can_roll,
            'health': self.health,
        }


class Provider(Compute, Traffic, Records):
    """What the fleet engine needs from an instance provider: the ports ``Compute`` (instances), ``Traffic`` (the
    load balancer and its members) and ``Records`` (lock, history) of ``provider/ports.py``, in one object. Every
    method raises ProviderError.

    ``name`` is the provider's name in the registry (``provider/registry.py``, the ``provider`` option);
    ``capabilities`` the frozenset of the ``CAPABILITIES`` it has (none unless it says so).
    """

    name = None
    capabilities = frozenset()

    def probe(self):
        """The provider's own health check of an instance (a ``ports.Probe``), or None: the fleet engine then uses
        the controller's (``ports.HttpProbe``)."""
        return None

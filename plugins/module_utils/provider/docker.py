# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded default provider: the local Docker engine.

Per fleet ``<fleet>``:

- instances are containers ``<fleet>-r<revision>-<6 hex>`` of the fleet's image (by ID), labelled with fleet,
  role ``instance``, revision, version, image ID and service port, on the network ``<fleet>-net``; the service
  port is published on 127.0.0.1 only, on a random host port, so the controller can health-check each one.
  No restart policy: a dead instance is replaced, never restarted in place.
- the load balancer is the container ``<fleet>-lb`` of the ``lb`` image (HAProxy) in the network namespace of
  its holder ``<fleet>-lb-holder``, a container on the same network that runs nothing and owns the published
  ports: the frontend (8080 in the container) on the fleet's listen address, the runtime API and the stats page
  of both slots (9999/8404, 9998/8403) on 127.0.0.1 only. A new lb image starts as ``<fleet>-lb-next`` on the
  other slot, takes the listening socket over and the old one soft-stops (see ``start_next_load_balancer``).
- every container, the network, the load balancer's volume and the records carry the repository label: a fleet
  belongs to one image repository, and another repository's provider refuses to touch it.
- the lock is the container ``<fleet>-lock`` (created, never started) of a tiny empty marker image: the engine
  refuses a second container of the same name, so taking the lock is atomic. Its labels name the holder.
- the revision history is an empty image tagged ``<repository>/fleet-history:<fleet>`` (made with
  ``docker import``) whose labels carry the history as base64 JSON. Each write imports a new one with a higher
  sequence number, then removes the older ones, so a reader never sees a half-written history.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import base64
import datetime
import io
import json
import re
import signal
import tarfile
import time
import uuid

from ansible_collections.immutable.infra.plugins.module_utils.haproxy import check_settings, seed_servers
from ansible_collections.immutable.infra.plugins.module_utils.images import (
    LABEL_BAKE_CONTAINER, LABEL_STOP_SIGNAL, DockerImageStore, docker_client,
)
from ansible_collections.immutable.infra.plugins.module_utils.provider.haproxy_traffic import HAProxyTraffic
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    ADDED, CAPABILITIES, CHANGED, DELETED, FAILED, LABEL_FLEET, LABEL_IMAGE_ID, LABEL_LISTEN, LABEL_PREFIX, LABEL_REPOSITORY, LABEL_REVISION, LABEL_ROLE,
    LABEL_SERVICE_PORT,
    LABEL_VERSION, PENDING, ROLE_INSTANCE, ROLE_LB, ROLE_LB_HOLDER, ROLE_LOCK, RUNNING, STOPPED, Instance,
    LoadBalancer, LockHeld, Provider, ProviderError,
)

try:
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
except ImportError:  # pragma: no cover - images.docker_client() reports the missing SDK
    APIError = DockerException = ImageNotFound = NotFound = Exception

LABEL_LOCK_PREFIX = LABEL_PREFIX + 'lock.'
# LABEL_BAKE_CONTAINER: a baked image may carry the label of its Packer build container, and the bake removes
# containers that carry it as leftovers of an interrupted build, so a fleet's containers blank it.
LABEL_RECORD = LABEL_PREFIX + 'record'
LABEL_HISTORY_OF = LABEL_PREFIX + 'history-of'
LABEL_HISTORY = LABEL_PREFIX + 'history'
LABEL_HISTORY_SEQ = LABEL_PREFIX + 'history-seq'
HISTORY_LIMIT = 50

LB_FRONTEND_PORT = 8080
LB_API_PORT = 9999
LB_STATS_PORT = 8404
# Two generations of a load balancer share the holder's network namespace while the newer one takes over: each
# has a slot, that is its own runtime API and stats ports (the lb image reads them from its environment).
LB_API_PORTS = (LB_API_PORT, 9998)
LB_STATS_PORTS = (LB_STATS_PORT, 8403)
LABEL_LB_SLOT = LABEL_PREFIX + 'lb-slot'
# The health check the load balancer runs on its servers: "STATUS PATH" (the fleet's health.status and .path).
LABEL_LB_HEALTH = LABEL_PREFIX + 'lb-health'
# The runtime API's unix socket folder, shared by the generations: the new one takes the listening socket of
# the old one through it (HAProxy's -x), so no connection waiting to be accepted is lost.
LB_RUN_DIR = '/run/haproxy'
# What the holder runs: nothing, until it is told to stop.
HOLDER_COMMAND = ['-c', 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done']


# Docker's container states in the provider-neutral vocabulary (provider.INSTANCE_STATES). ``exited`` depends on
# how: see ``instance_state``.
PENDING_STATES = ('created', 'restarting', 'paused', 'removing')
# The signals a stop ends a process with (docker stop: the stop signal, then SIGKILL after the timeout); an
# instance that exited with 128 + one of them (or the container's own stop signal) was stopped, not crashed.
STOP_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGKILL, signal.SIGTERM)
# Kind of GET /containers/<id>/changes in the neutral change words.
DIFF_KINDS = {0: CHANGED, 1: ADDED, 2: DELETED}
EXIT_CODE_RE = re.compile(r'^Exited \((-?\d+)\)')


def _signal_number(name):
    """The number of a stop signal as Docker keeps it (``SIGQUIT``, ``QUIT`` or ``3``), or None."""
    if not name:
        return None
    text = str(name).upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals[text if text.startswith('SIG') else 'SIG' + text])
    except (KeyError, ValueError):
        return None


def instance_state(status, exit_code=None, oom_killed=False, stop_signal=None):
    """The neutral state of a container in Docker's ``status`` (``State.Status``):

    - ``running`` -> running;
    - ``created``, ``restarting``, ``paused``, ``removing`` -> pending (not running, not finished);
    - ``exited`` with code 0, with 128 + SIGINT, SIGQUIT, SIGKILL, SIGTERM or the container's ``stop_signal`` (a
      stop, ours or by hand), or with no known code (a container listing) -> stopped;
    - ``exited`` with any other code or killed for lack of memory (a crash), ``dead`` -> failed.
    """
    if status == 'running':
        return RUNNING
    if status in PENDING_STATES:
        return PENDING
    if status == 'exited' and not oom_killed:
        signals = set(int(s) for s in STOP_SIGNALS)
        own = _signal_number(stop_signal)
        if own:
            signals.add(own)
        if exit_code is None or exit_code == 0 or exit_code - 128 in signals:
            return STOPPED
    return FAILED


def _summary_exit_code(summary):
    """The exit code a container listing shows in ``Status`` (``Exited (137) 2 minutes ago``), or None."""
    found = EXIT_CODE_RE.match(summary.get('Status') or '')
    return int(found.group(1)) if found else None


def _empty_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w'):
        pass
    return buf.getvalue()


def _iso(epoch):
    if not epoch:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _int(text, default=0):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class DockerProvider(HAProxyTraffic, Provider):
    """Fleets on one Docker engine. ``client`` is a ``docker.DockerClient``; ``repository`` prefixes the tags
    of the record images (history and lock marker); ``docker_host`` is the engine's URL when it is not the
    default one (inventories pass it on to the connection plugin).

    One object for the three ports: ``Compute`` and ``Records`` are containers and images of the engine, the
    ``Traffic`` port's load balancer is containers too (below), and its members are HAProxy's, through the runtime
    API the holder publishes (``HAProxyTraffic``)."""

    name = 'docker'
    # Every capability: HAProxy weights, counters and runtime API, kept stopped containers, the load balancer's
    # two slots in one holder, the engine's container diff.
    capabilities = frozenset(CAPABILITIES)

    def __init__(self, client, repository='immutable', docker_host=None):
        self.client = client
        self.api = client.api
        self.repository = repository
        self.docker_host = docker_host

    # Names ----------------------------------------------------------------------------------------------
    @staticmethod
    def network_name(fleet):
        return '%s-net' % fleet

    @staticmethod
    def lb_name(fleet):
        return '%s-lb' % fleet

    @staticmethod
    def lb_next_name(fleet):
        return '%s-lb-next' % fleet

    @staticmethod
    def lb_holder_name(fleet):
        return '%s-lb-holder' % fleet

    @staticmethod
    def lb_volume_name(fleet):
        return '%s-lb-run' % fleet

    @staticmethod
    def lock_name(fleet):
        return '%s-lock' % fleet

    # Helpers --------------------------------------------------------------------------------------------
    def _own(self, fleet, labels, what):
        """Fail when ``labels`` (of a container, network or record) say the fleet belongs to another repository.
        A fleet's name is unique on an engine (its containers are named after it), and the fleet belongs to the
        repository its images and records are in; records made before the label existed are accepted."""
        repository = (labels or {}).get(LABEL_REPOSITORY)
        if repository and repository != self.repository:
            raise ProviderError('fleet %s on this engine belongs to the image repository %s (its %s says so), not to %s: '
                                'run with -e image_repository=%s, or give this fleet another name'
                                % (fleet, repository, what, self.repository, repository))

    def _ours(self, image):
        """True when a record image belongs to this provider's repository (label, else its tags)."""
        labels = image.get('Labels') or {}
        if labels.get(LABEL_REPOSITORY):
            return labels[LABEL_REPOSITORY] == self.repository
        return any(tag.startswith(self.repository + '/') for tag in image.get('RepoTags') or [])

    def _call(self, what, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (APIError, DockerException) as exc:
            raise ProviderError('%s: %s' % (what, exc))

    def _inspect(self, ref):
        try:
            return self.api.inspect_container(ref)
        except NotFound:
            return None
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot inspect container %s: %s' % (ref, exc))

    def _ensure_network(self, fleet):
        name = self.network_name(fleet)
        found = self._call('cannot list networks', self.api.networks, names=[name])
        for net in found:
            if net.get('Name') == name:
                if (net.get('Labels') or {}).get(LABEL_FLEET) != fleet:
                    raise ProviderError('network %s exists but is not the network of fleet %s (no %s=%s label): '
                                        'remove or rename it' % (name, fleet, LABEL_FLEET, fleet))
                self._own(fleet, net.get('Labels'), 'network %s' % name)
                return name
        self._call('cannot create network %s' % name, self.api.create_network, name, driver='bridge',
                   labels={LABEL_FLEET: fleet, LABEL_REPOSITORY: self.repository}, check_duplicate=True)
        return name

    def _run(self, what, image_id, name, labels, ports, port_bindings, fleet, command=None, environment=None,
             entrypoint=None, stop_signal=None):
        """Create and start a container on the fleet network; removed again when it cannot start."""
        network = self._ensure_network(fleet)
        host_config = self.api.create_host_config(port_bindings=port_bindings)
        networking = self.api.create_networking_config({network: self.api.create_endpoint_config()})
        created = self._call('cannot create %s' % what, self.api.create_container, image_id, name=name,
                             labels=labels, ports=list(ports), host_config=host_config, networking_config=networking,
                             hostname=name, detach=True, command=command, environment=environment,
                             entrypoint=entrypoint, stop_signal=stop_signal)
        return self._start(what, created['Id'])

    def _start(self, what, container_id):
        created = {'Id': container_id}
        try:
            self.api.start(created['Id'])
        except (APIError, DockerException) as exc:
            try:
                self.api.remove_container(created['Id'], force=True, v=True)
            except (APIError, DockerException):
                pass
            raise ProviderError('cannot start %s: %s' % (what, exc))
        return created['Id']

    @staticmethod
    def _published(ports, container_port):
        """(host, port) of a published container port from inspect data, or None."""
        bindings = (ports or {}).get('%d/tcp' % container_port) or []
        for binding in bindings:
            if binding.get('HostPort'):
                return binding.get('HostIp') or '127.0.0.1', int(binding['HostPort'])
        return None

    def _instance(self, attrs):
        labels = attrs['Config'].get('Labels') or {}
        engine_state = attrs['State']['Status']
        state = instance_state(engine_state, attrs['State'].get('ExitCode'), attrs['State'].get('OOMKilled'),
                               attrs['Config'].get('StopSignal'))
        port = _int(labels.get(LABEL_SERVICE_PORT))
        network = self.network_name(labels.get(LABEL_FLEET))
        endpoint = address = None
        if state == RUNNING:
            endpoint = self._published(attrs['NetworkSettings'].get('Ports'), port)
            ip = ((attrs['NetworkSettings'].get('Networks') or {}).get(network) or {}).get('IPAddress')
            address = (ip, port) if ip else None
        return Instance(
            name=attrs['Name'].lstrip('/'), id=attrs['Id'], fleet=labels.get(LABEL_FLEET),
            revision=_int(labels.get(LABEL_REVISION)), version=labels.get(LABEL_VERSION),
            image_id=labels.get(LABEL_IMAGE_ID) or attrs.get('Image'), service_port=port, state=state,
            endpoint=endpoint, address=address, created=attrs.get('Created', '')[:19] + 'Z', labels=labels,
            engine_state=engine_state)

    # Instances ------------------------------------------------------------------------------------------
    def instances(self, fleet):
        summaries = self._call('cannot list the instances of fleet %s' % fleet, self.api.containers, all=True,
                               filters={'label': ['%s=%s' % (LABEL_FLEET, fleet), '%s=%s' % (LABEL_ROLE, ROLE_INSTANCE)]})
        found = []
        for summary in summaries:
            attrs = self._inspect(summary['Id'])
            if attrs is not None:
                self._own(fleet, attrs['Config'].get('Labels'), 'instance %s' % attrs['Name'].lstrip('/'))
                found.append(self._instance(attrs))
        return sorted(found, key=Instance.age_key)

    def create_instance(self, fleet, image_id, version, revision, service_port):
        name = '%s-r%d-%s' % (fleet, revision, uuid.uuid4().hex[:6])
        labels = {
            LABEL_BAKE_CONTAINER: '',
            LABEL_FLEET: fleet,
            LABEL_REPOSITORY: self.repository,
            LABEL_ROLE: ROLE_INSTANCE,
            LABEL_REVISION: str(revision),
            LABEL_VERSION: version,
            LABEL_IMAGE_ID: image_id,
            LABEL_SERVICE_PORT: str(service_port),
        }
        image = self._call('cannot inspect image %s' % image_id, self.api.inspect_image, image_id)
        stop_signal = ((image.get('Config') or {}).get('Labels') or {}).get(LABEL_STOP_SIGNAL) or None
        container_id = self._run('instance %s of fleet %s' % (name, fleet), image_id, name, labels, [service_port],
                                 {service_port: ('127.0.0.1',)}, fleet, stop_signal=stop_signal)
        return self._instance(self._inspect(container_id))

    def start_instance(self, instance):
        self._call('cannot start instance %s' % instance.name, self.api.start, instance.id)
        attrs = self._inspect(instance.id)
        if attrs is None:
            raise ProviderError('instance %s disappeared while starting' % instance.name)
        return self._instance(attrs)

    def stop_instance(self, instance, timeout):
        try:
            self.api.stop(instance.id, timeout=int(timeout))
        except NotFound:
            return
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot stop instance %s: %s' % (instance.name, exc))

    def remove_instance(self, instance):
        try:
            self.api.remove_container(instance.id, force=True, v=True)
        except NotFound:
            return
        except (APIError, DockerException) as exc:
            if 'is already in progress' in str(exc):
                return
            raise ProviderError('cannot remove instance %s: %s' % (instance.name, exc))

    def diff(self, instance):
        # GET /containers/<id>/changes, what `docker diff` prints: read-only.
        try:
            changes = self.api.diff(instance.id) or []
        except NotFound:
            raise ProviderError('instance %s disappeared while its filesystem was compared with its image'
                                % instance.name)
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot compare instance %s with its image: %s' % (instance.name, exc))
        return [{'path': change['Path'], 'change': DIFF_KINDS.get(change['Kind'], CHANGED)} for change in changes]

    def all_instances(self, include_stopped=False):
        summaries = self._call('cannot list containers', self.api.containers, all=include_stopped,
                               filters={'label': LABEL_FLEET})
        found = []
        for summary in summaries:
            labels = summary.get('Labels') or {}
            fleet = labels.get(LABEL_FLEET)
            if not fleet or labels.get(LABEL_ROLE, ROLE_INSTANCE) != ROLE_INSTANCE:
                continue
            found.append(Instance(
                name=summary['Names'][0].lstrip('/'), id=summary['Id'], fleet=fleet,
                revision=_int(labels.get(LABEL_REVISION), None), version=labels.get(LABEL_VERSION),
                image_id=labels.get(LABEL_IMAGE_ID) or summary.get('ImageID'),
                service_port=_int(labels.get(LABEL_SERVICE_PORT), None),
                state=instance_state(summary.get('State'), _summary_exit_code(summary)),
                created=_iso(summary.get('Created')), labels=labels, engine_state=summary.get('State')))
        return found

    def connection_vars(self, instance):
        """community.docker's connection plugin into the container, on this provider's engine."""
        hostvars = {'ansible_connection': 'community.docker.docker', 'ansible_host': instance.name}
        if self.docker_host:
            hostvars['ansible_docker_extra_args'] = '-H %s' % self.docker_host
        return hostvars

    # Load balancer --------------------------------------------------------------------------------------
    # The load balancer is two kinds of containers: a holder `<fleet>-lb-holder` on the fleet network that runs
    # nothing but owns the network namespace and the published ports (frontend on the listen address, both
    # slots' runtime API and stats ports on 127.0.0.1), and HAProxy `<fleet>-lb` in the holder's namespace. To
    # roll HAProxy to a new image, `<fleet>-lb-next` starts in the same namespace on the other slot, takes the
    # listening socket over, and the old one soft-stops; then the new one is renamed `<fleet>-lb`.
    def _lb(self, fleet, attrs):
        labels = attrs['Config'].get('Labels') or {}
        name = attrs['Name'].lstrip('/')
        if labels.get(LABEL_FLEET) != fleet or labels.get(LABEL_ROLE) != ROLE_LB:
            raise ProviderError('container %s exists but is not the load balancer of fleet %s: remove or rename it'
                                % (name, fleet))
        self._own(fleet, labels, 'load balancer %s' % name)
        state = attrs['State']['Status']
        mode = attrs['HostConfig'].get('NetworkMode') or ''
        if not mode.startswith('container:'):
            # A load balancer created before holders existed: its own ports, it cannot be rolled.
            ports = attrs['NetworkSettings'].get('Ports')
            running = state == 'running'
            return LoadBalancer(
                name=name, id=attrs['Id'], fleet=fleet, image_id=labels.get(LABEL_IMAGE_ID),
                version=labels.get(LABEL_VERSION), listen=labels.get(LABEL_LISTEN), state=state,
                api=self._published(ports, LB_API_PORT) if running else None,
                stats=self._published(ports, LB_STATS_PORT) if running else None)
        holder = self._inspect(mode[len('container:'):])
        if holder is None or holder['State']['Status'] != 'running':
            state = 'without its holder (%s)' % (holder['State']['Status'] if holder else 'missing')
        elif (holder['State'].get('StartedAt') or '') > (attrs['State'].get('StartedAt') or ''):
            state = 'detached (its holder restarted after it)'
        slot = _int(labels.get(LABEL_LB_SLOT))
        running = state == 'running'
        ports = holder['NetworkSettings'].get('Ports') if running else None
        return LoadBalancer(
            name=name, id=attrs['Id'], fleet=fleet, image_id=labels.get(LABEL_IMAGE_ID),
            version=labels.get(LABEL_VERSION), listen=labels.get(LABEL_LISTEN), state=state,
            api=self._published(ports, LB_API_PORTS[slot]) if running else None,
            stats=self._published(ports, LB_STATS_PORTS[slot]) if running else None, can_roll=True,
            health=labels.get(LABEL_LB_HEALTH))

    def load_balancer(self, fleet):
        attrs = self._inspect(self.lb_name(fleet))
        if attrs is None:
            nxt = self._inspect(self.lb_next_name(fleet))
            if nxt is None:
                return None
            # A roll was cut short after the old one was removed: the new one is the load balancer.
            self._call('cannot rename %s' % self.lb_next_name(fleet), self.api.rename, nxt['Id'], self.lb_name(fleet))
            attrs = self._inspect(self.lb_name(fleet))
            if attrs is None:
                return None
        return self._lb(fleet, attrs)

    def _lb_labels(self, fleet, image_id, version, listen, slot=None):
        labels = {
            LABEL_BAKE_CONTAINER: '',
            LABEL_FLEET: fleet,
            LABEL_REPOSITORY: self.repository,
            LABEL_ROLE: ROLE_LB,
            LABEL_VERSION: version,
            LABEL_IMAGE_ID: image_id,
            LABEL_LISTEN: listen,
        }
        if slot is not None:
            labels[LABEL_LB_SLOT] = str(slot)
        return labels

    def _ensure_holder(self, fleet, image_id, listen_host, listen_port):
        """The running holder of the fleet's load balancer on ``listen_host:listen_port`` (created when missing)."""
        name = self.lb_holder_name(fleet)
        listen = '%s:%d' % (listen_host, listen_port)
        attrs = self._inspect(name)
        if attrs is not None:
            labels = attrs['Config'].get('Labels') or {}
            if labels.get(LABEL_FLEET) != fleet or labels.get(LABEL_ROLE) != ROLE_LB_HOLDER:
                raise ProviderError('container %s exists but is not the load balancer holder of fleet %s: remove or '
                                    'rename it' % (name, fleet))
            if attrs['State']['Status'] == 'running' and labels.get(LABEL_LISTEN) == listen:
                return attrs['Id']
            self._remove_container(name, 'the load balancer holder of fleet %s' % fleet)
        labels = {LABEL_BAKE_CONTAINER: '', LABEL_FLEET: fleet, LABEL_REPOSITORY: self.repository,
                  LABEL_ROLE: ROLE_LB_HOLDER, LABEL_LISTEN: listen}
        bindings = {LB_FRONTEND_PORT: (listen_host, int(listen_port))}
        for port in LB_API_PORTS + LB_STATS_PORTS:
            bindings[port] = ('127.0.0.1',)
        return self._run('the load balancer holder %s of fleet %s on %s' % (name, fleet, listen), image_id, name,
                         labels, [LB_FRONTEND_PORT] + list(LB_API_PORTS + LB_STATS_PORTS), bindings, fleet,
                         command=HOLDER_COMMAND, entrypoint=['/bin/sh'])

    def _start_generation(self, fleet, name, holder_id, image_id, version, listen, slot, servers, check, take_over):
        volume = self.lb_volume_name(fleet)
        if not self._call('cannot list volumes', self.api.volumes, filters={'name': volume}).get('Volumes'):
            self._call('cannot create volume %s' % volume, self.api.create_volume, volume,
                       labels={LABEL_FLEET: fleet, LABEL_REPOSITORY: self.repository})
        # The lb image's entry point: seeded servers, this slot's ports, and -x to take the listening socket
        # over from the generation that runs (see roles/haproxy).
        environment = {'IMMUTABLE_LB_API_PORT': str(LB_API_PORTS[slot]),
                       'IMMUTABLE_LB_STATS_PORT': str(LB_STATS_PORTS[slot])}
        if check and check.get('path'):
            environment['IMMUTABLE_LB_HEALTH_PATH'] = check['path']
            environment['IMMUTABLE_LB_HEALTH_STATUS'] = str(check.get('status', 200))
        if servers:
            environment['IMMUTABLE_LB_SERVERS'] = seed_servers(servers)
            if check:
                environment['IMMUTABLE_LB_CHECK'] = check_settings(check)
        if take_over:
            environment['IMMUTABLE_LB_TAKE_OVER'] = '1'
        host_config = self.api.create_host_config(network_mode='container:%s' % holder_id,
                                                  binds={volume: {'bind': LB_RUN_DIR, 'mode': 'rw'}})
        what = 'the load balancer %s of fleet %s on %s' % (name, fleet, listen)
        labels = self._lb_labels(fleet, image_id, version, listen, slot)
        if check and check.get('path'):
            labels[LABEL_LB_HEALTH] = '%s %s' % (check.get('status', 200), check['path'])
        created = self._call('cannot create %s' % what, self.api.create_container, image_id, name=name,
                             labels=labels, host_config=host_config, detach=True, environment=environment)
        self._start(what, created['Id'])
        attrs = self._inspect(created['Id'])
        if attrs is None:
            raise ProviderError('%s disappeared while starting' % what)
        return self._lb(fleet, attrs)

    def create_load_balancer(self, fleet, image_id, version, listen_host, listen_port, servers=None, check=None):
        self.remove_load_balancer(fleet, keep_holder=True)
        holder_id = self._ensure_holder(fleet, image_id, listen_host, listen_port)
        return self._start_generation(fleet, self.lb_name(fleet), holder_id, image_id, version,
                                      '%s:%d' % (listen_host, listen_port), 0, servers, check, take_over=False)

    def start_next_load_balancer(self, fleet, image_id, version, servers=None, check=None):
        current = self.load_balancer(fleet)
        if current is None or not current.running or not current.can_roll:
            raise ProviderError('the load balancer of fleet %s cannot be rolled: %s' % (
                fleet, 'it was created before load balancers could be rolled (remove the fleet and deploy it again '
                'once)' if current is not None and current.running else 'it is not running'))
        attrs = self._inspect(current.id)
        holder_id = attrs['HostConfig']['NetworkMode'][len('container:'):]
        slot = 1 - _int((attrs['Config'].get('Labels') or {}).get(LABEL_LB_SLOT))
        self._remove_container(self.lb_next_name(fleet), 'a load balancer left by an interrupted roll')
        return self._start_generation(fleet, self.lb_next_name(fleet), holder_id, image_id, version, current.listen,
                                      slot, servers, check, take_over=True)

    def finish_load_balancer_roll(self, fleet, timeout):
        old = self._inspect(self.lb_name(fleet))
        nxt = self._inspect(self.lb_next_name(fleet))
        if nxt is None:
            raise ProviderError('fleet %s has no new load balancer to hand over to' % fleet)
        if old is not None:
            # SIGUSR1: HAProxy's soft stop. It stops accepting, finishes the requests it has, and exits.
            try:
                self.api.kill(old['Id'], signal='SIGUSR1')
            except (APIError, DockerException):
                pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                attrs = self._inspect(old['Id'])
                if attrs is None or attrs['State']['Status'] != 'running':
                    break
                time.sleep(0.2)
            self._remove_container(old['Id'], 'the old load balancer of fleet %s' % fleet)
        self._call('cannot rename %s' % self.lb_next_name(fleet), self.api.rename, nxt['Id'], self.lb_name(fleet))
        return self.load_balancer(fleet)

    def _remove_container(self, ref, what):
        try:
            self.api.remove_container(ref, force=True, v=True)
        except NotFound:
            return
        except (APIError, DockerException) as exc:
            if 'is already in progress' in str(exc):
                return
            raise ProviderError('cannot remove %s: %s' % (what, exc))

    def remove_load_balancer(self, fleet, keep_holder=False):
        names = [self.lb_next_name(fleet), self.lb_name(fleet)]
        if not keep_holder:
            names.append(self.lb_holder_name(fleet))
        for name in names:
            self._remove_container(name, 'the load balancer %s of fleet %s' % (name, fleet))

    # Lock -----------------------------------------------------------------------------------------------
    def _marker_image(self):
        """ID of the empty image lock containers are created from (imported once)."""
        def mine():
            return [i for i in self._call('cannot list images', self.api.images,
                                          filters={'label': '%s=lock' % LABEL_RECORD}) if self._ours(i)]

        found = mine()
        if found:
            return found[0]['Id']
        self._call('cannot import the lock marker image', self.api.import_image_from_data, _empty_tar(),
                   repository='%s/fleet-lock' % self.repository, tag='marker',
                   changes=['LABEL %s="lock" %s="%s"' % (LABEL_RECORD, LABEL_REPOSITORY, self.repository)])
        found = mine()
        if not found:
            raise ProviderError('the lock marker image was imported but cannot be found')
        return found[0]['Id']

    def acquire_lock(self, fleet, holder):
        labels = {LABEL_FLEET: fleet, LABEL_REPOSITORY: self.repository, LABEL_ROLE: ROLE_LOCK}
        labels.update({LABEL_LOCK_PREFIX + key: str(value) for key, value in holder.items()})
        marker = self._marker_image()
        for dummy in range(3):
            try:
                self.api.create_container(marker, name=self.lock_name(fleet), labels=labels, command=['lock'],
                                          network_disabled=True)
                return
            except APIError as exc:
                if getattr(exc, 'status_code', None) != 409 and 'Conflict' not in str(exc):
                    raise ProviderError('cannot create the lock %s of fleet %s: %s' % (self.lock_name(fleet), fleet, exc))
            current = self.lock_holder(fleet)
            if current is not None:
                raise LockHeld(fleet, current)
            # The holder released it between our attempt and the read: try again.
        raise ProviderError('cannot take the lock of fleet %s: it keeps changing hands' % fleet)

    def lock_holder(self, fleet):
        attrs = self._inspect(self.lock_name(fleet))
        if attrs is None:
            return None
        labels = attrs['Config'].get('Labels') or {}
        if labels.get(LABEL_ROLE) != ROLE_LOCK:
            raise ProviderError('container %s exists but is not the lock of fleet %s: remove or rename it'
                                % (self.lock_name(fleet), fleet))
        self._own(fleet, labels, 'lock %s' % self.lock_name(fleet))
        return {key[len(LABEL_LOCK_PREFIX):]: value for key, value in labels.items()
                if key.startswith(LABEL_LOCK_PREFIX)}

    def release_lock(self, fleet, token=None):
        if token is not None:
            holder = self.lock_holder(fleet)
            if holder is None or holder.get('token') != token:
                return False
        try:
            self.api.remove_container(self.lock_name(fleet), force=True)
        except NotFound:
            return False
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot remove the lock %s of fleet %s: %s' % (self.lock_name(fleet), fleet, exc))
        return True

    # History --------------------------------------------------------------------------------------------
    def _history_images(self, fleet):
        found = self._call('cannot list images', self.api.images,
                           filters={'label': '%s=%s' % (LABEL_HISTORY_OF, fleet)})
        mine = [i for i in found if self._ours(i)]
        if found and not mine:
            other = (found[0].get('Labels') or {}).get(LABEL_REPOSITORY) or \
                ((found[0].get('RepoTags') or ['?'])[0].rsplit('/fleet-history', 1)[0])
            self._own(fleet, {LABEL_REPOSITORY: other}, 'revision history')
        return sorted(mine, key=lambda i: _int((i.get('Labels') or {}).get(LABEL_HISTORY_SEQ), -1))

    def read_history(self, fleet):
        images = self._history_images(fleet)
        if not images:
            return []
        labels = images[-1].get('Labels') or {}
        try:
            return json.loads(base64.b64decode(labels.get(LABEL_HISTORY, '')).decode('utf-8') or '[]')
        except (ValueError, TypeError) as exc:
            raise ProviderError('the revision history image of fleet %s (%s) is unreadable: %s'
                                % (fleet, images[-1]['Id'], exc))

    def write_history(self, fleet, entries):
        images = self._history_images(fleet)
        seq = _int((images[-1].get('Labels') or {}).get(LABEL_HISTORY_SEQ), 0) + 1 if images else 1
        data = base64.b64encode(json.dumps(list(entries)[-HISTORY_LIMIT:], sort_keys=True,
                                           separators=(',', ':')).encode('utf-8')).decode('ascii')
        changes = ['LABEL %s="history" %s="%s" %s="%s" %s="%d" %s="%s"'
                   % (LABEL_RECORD, LABEL_HISTORY_OF, fleet, LABEL_REPOSITORY, self.repository, LABEL_HISTORY_SEQ, seq,
                      LABEL_HISTORY, data)]
        self._call('cannot write the revision history of fleet %s' % fleet, self.api.import_image_from_data,
                   _empty_tar(), repository='%s/fleet-history' % self.repository, tag=fleet, changes=changes)
        for image in images:
            try:
                self.api.remove_image(image['Id'], force=True, noprune=False)
            except (APIError, DockerException, ImageNotFound):
                pass

    # Fleets -----------------------------------------------------------------------------------------------
    def fleets(self):
        # The lock counts: a first deploy holds it (naming the image it rolls to) before anything else exists, and
        # prune reads the records of the fleets listed here.
        names = set()
        for summary in self._call('cannot list containers', self.api.containers, all=True,
                                  filters={'label': LABEL_FLEET}):
            labels = summary.get('Labels') or {}
            if labels.get(LABEL_ROLE) in (ROLE_INSTANCE, ROLE_LB, ROLE_LB_HOLDER, ROLE_LOCK) and \
                    labels.get(LABEL_REPOSITORY, self.repository) == self.repository:
                names.add(labels[LABEL_FLEET])
        for image in self._call('cannot list images', self.api.images, filters={'label': LABEL_HISTORY_OF}):
            if self._ours(image):
                names.add((image.get('Labels') or {}).get(LABEL_HISTORY_OF))
        return sorted(n for n in names if n)

    def forget(self, fleet):
        for image in self._history_images(fleet):
            try:
                self.api.remove_image(image['Id'], force=True, noprune=False)
            except (APIError, DockerException, ImageNotFound):
                pass
        self.release_lock(fleet)
        self.remove_load_balancer(fleet)
        volume = self.lb_volume_name(fleet)
        try:
            self.api.remove_volume(volume, force=True)
        except NotFound:
            pass
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot remove volume %s: %s' % (volume, exc))
        name = self.network_name(fleet)
        for net in self._call('cannot list networks', self.api.networks, names=[name]):
            if net.get('Name') == name and (net.get('Labels') or {}).get(LABEL_FLEET) == fleet:
                self._remove_network(name, net['Id'])

    def _remove_network(self, name, net_id, seconds=10):
        """Remove a fleet network once its containers are gone. Right after a container is removed the engine may
        still hold its endpoint for a moment (403 "has active endpoints"): retried for up to ``seconds``."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.api.remove_network(net_id)
                return
            except NotFound:
                return
            except (APIError, DockerException) as exc:
                if 'active endpoints' not in str(exc) or time.monotonic() > deadline:
                    raise ProviderError('cannot remove network %s: %s' % (name, exc))
            time.sleep(0.5)


class DockerConnection:
    """One connection to a Docker engine, made by the registry for ``provider: docker``.

    ``params`` are the module's (or plugin's) options: ``docker_host`` (else ``DOCKER_HOST``, else the local
    socket) and ``repository``. The fleet provider and the image store share the one client.
    """

    name = DockerProvider.name
    capabilities = DockerProvider.capabilities

    def __init__(self, params):
        self.docker_host = params.get('docker_host')
        self.repository = params.get('repository') or 'immutable'
        self.client = docker_client(self.docker_host)

    def provider(self):
        """The fleet provider (``DockerProvider``)."""
        return DockerProvider(self.client, self.repository, self.docker_host)

    def image_store(self):
        """The image store (``images.DockerImageStore``)."""
        return DockerImageStore(self.client, self.repository)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The embedded default provider: the local Docker engine.

Per fleet ``<fleet>``:

- instances are containers ``<fleet>-r<revision>-<6 hex>`` of the fleet's image (by ID), labelled with fleet,
  role ``instance``, revision, version, image ID and service port, on the network ``<fleet>-net``; the service
  port is published on 127.0.0.1 only, on a random host port, so the controller can health-check each one.
  No restart policy: a dead instance is replaced, never restarted in place.
- the load balancer is the container ``<fleet>-lb`` of the ``lb`` image on the same network; its frontend
  (8080 in the container) is published on the fleet's listen address, the runtime API (9999) and the stats page
  (8404) on 127.0.0.1 only.
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
import tarfile
import uuid

from ansible_collections.immutable.infra.plugins.module_utils.haproxy import check_settings, seed_servers
from ansible_collections.immutable.infra.plugins.module_utils.images import LABEL_BAKE_CONTAINER
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    LABEL_FLEET, LABEL_IMAGE_ID, LABEL_LISTEN, LABEL_PREFIX, LABEL_REVISION, LABEL_ROLE, LABEL_SERVICE_PORT,
    LABEL_VERSION, ROLE_INSTANCE, ROLE_LB, ROLE_LOCK, Instance, LoadBalancer, LockHeld, Provider, ProviderError,
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


class DockerProvider(Provider):
    """Fleets on one Docker engine. ``client`` is a ``docker.DockerClient``; ``repository`` prefixes the tags
    of the record images (history and lock marker)."""

    def __init__(self, client, repository='immutable'):
        self.client = client
        self.api = client.api
        self.repository = repository

    # Names ----------------------------------------------------------------------------------------------
    @staticmethod
    def network_name(fleet):
        return '%s-net' % fleet

    @staticmethod
    def lb_name(fleet):
        return '%s-lb' % fleet

    @staticmethod
    def lock_name(fleet):
        return '%s-lock' % fleet

    # Helpers --------------------------------------------------------------------------------------------
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
                return name
        self._call('cannot create network %s' % name, self.api.create_network, name, driver='bridge',
                   labels={LABEL_FLEET: fleet}, check_duplicate=True)
        return name

    def _run(self, what, image_id, name, labels, ports, port_bindings, fleet, command=None, environment=None):
        """Create and start a container on the fleet network; removed again when it cannot start."""
        network = self._ensure_network(fleet)
        host_config = self.api.create_host_config(port_bindings=port_bindings)
        networking = self.api.create_networking_config({network: self.api.create_endpoint_config()})
        created = self._call('cannot create %s' % what, self.api.create_container, image_id, name=name,
                             labels=labels, ports=list(ports), host_config=host_config, networking_config=networking,
                             hostname=name, detach=True, command=command, environment=environment)
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
        state = attrs['State']['Status']
        port = _int(labels.get(LABEL_SERVICE_PORT))
        network = self.network_name(labels.get(LABEL_FLEET))
        endpoint = address = None
        if state == 'running':
            endpoint = self._published(attrs['NetworkSettings'].get('Ports'), port)
            ip = ((attrs['NetworkSettings'].get('Networks') or {}).get(network) or {}).get('IPAddress')
            address = (ip, port) if ip else None
        return Instance(
            name=attrs['Name'].lstrip('/'), id=attrs['Id'], fleet=labels.get(LABEL_FLEET),
            revision=_int(labels.get(LABEL_REVISION)), version=labels.get(LABEL_VERSION),
            image_id=labels.get(LABEL_IMAGE_ID) or attrs.get('Image'), service_port=port, state=state,
            endpoint=endpoint, address=address, created=attrs.get('Created', '')[:19] + 'Z', labels=labels)

    # Instances ------------------------------------------------------------------------------------------
    def instances(self, fleet):
        summaries = self._call('cannot list the instances of fleet %s' % fleet, self.api.containers, all=True,
                               filters={'label': ['%s=%s' % (LABEL_FLEET, fleet), '%s=%s' % (LABEL_ROLE, ROLE_INSTANCE)]})
        found = []
        for summary in summaries:
            attrs = self._inspect(summary['Id'])
            if attrs is not None:
                found.append(self._instance(attrs))
        return sorted(found, key=lambda i: (i.revision, i.created or '', i.name))

    def create_instance(self, fleet, image_id, version, revision, service_port):
        name = '%s-r%d-%s' % (fleet, revision, uuid.uuid4().hex[:6])
        labels = {
            LABEL_BAKE_CONTAINER: '',
            LABEL_FLEET: fleet,
            LABEL_ROLE: ROLE_INSTANCE,
            LABEL_REVISION: str(revision),
            LABEL_VERSION: version,
            LABEL_IMAGE_ID: image_id,
            LABEL_SERVICE_PORT: str(service_port),
        }
        container_id = self._run('instance %s of fleet %s' % (name, fleet), image_id, name, labels, [service_port],
                                 {service_port: ('127.0.0.1',)}, fleet)
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
            return self.api.diff(instance.id) or []
        except NotFound:
            raise ProviderError('instance %s disappeared while its filesystem was compared with its image'
                                % instance.name)
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot compare instance %s with its image: %s' % (instance.name, exc))

    # Load balancer --------------------------------------------------------------------------------------
    def load_balancer(self, fleet):
        attrs = self._inspect(self.lb_name(fleet))
        if attrs is None:
            return None
        labels = attrs['Config'].get('Labels') or {}
        if labels.get(LABEL_FLEET) != fleet or labels.get(LABEL_ROLE) != ROLE_LB:
            raise ProviderError('container %s exists but is not the load balancer of fleet %s: remove or rename it'
                                % (self.lb_name(fleet), fleet))
        ports = attrs['NetworkSettings'].get('Ports')
        running = attrs['State']['Status'] == 'running'
        return LoadBalancer(
            name=self.lb_name(fleet), id=attrs['Id'], fleet=fleet, image_id=labels.get(LABEL_IMAGE_ID),
            version=labels.get(LABEL_VERSION), listen=labels.get(LABEL_LISTEN), state=attrs['State']['Status'],
            api=self._published(ports, LB_API_PORT) if running else None,
            stats=self._published(ports, LB_STATS_PORT) if running else None)

    def create_load_balancer(self, fleet, image_id, version, listen_host, listen_port, servers=None, check=None):
        name = self.lb_name(fleet)
        # The lb image's entry point starts HAProxy with these servers in its backend (see roles/haproxy).
        environment = {}
        if servers:
            environment['IMMUTABLE_LB_SERVERS'] = seed_servers(servers)
            if check:
                environment['IMMUTABLE_LB_CHECK'] = check_settings(check)
        labels = {
            LABEL_BAKE_CONTAINER: '',
            LABEL_FLEET: fleet,
            LABEL_ROLE: ROLE_LB,
            LABEL_VERSION: version,
            LABEL_IMAGE_ID: image_id,
            LABEL_LISTEN: '%s:%d' % (listen_host, listen_port),
        }
        bindings = {
            LB_FRONTEND_PORT: (listen_host, int(listen_port)),
            LB_API_PORT: ('127.0.0.1',),
            LB_STATS_PORT: ('127.0.0.1',),
        }
        self._run('the load balancer %s of fleet %s on %s:%s' % (name, fleet, listen_host, listen_port), image_id,
                  name, labels, [LB_FRONTEND_PORT, LB_API_PORT, LB_STATS_PORT], bindings, fleet,
                  environment=environment or None)
        return self.load_balancer(fleet)

    def remove_load_balancer(self, fleet):
        try:
            self.api.remove_container(self.lb_name(fleet), force=True, v=True)
        except NotFound:
            return
        except (APIError, DockerException) as exc:
            raise ProviderError('cannot remove the load balancer of fleet %s: %s' % (fleet, exc))

    # Lock -----------------------------------------------------------------------------------------------
    def _marker_image(self):
        """ID of the empty image lock containers are created from (imported once)."""
        found = self._call('cannot list images', self.api.images, filters={'label': '%s=lock' % LABEL_RECORD})
        if found:
            return found[0]['Id']
        self._call('cannot import the lock marker image', self.api.import_image_from_data, _empty_tar(),
                   repository='%s/fleet-lock' % self.repository, tag='marker',
                   changes=['LABEL %s="lock"' % LABEL_RECORD])
        found = self._call('cannot list images', self.api.images, filters={'label': '%s=lock' % LABEL_RECORD})
        if not found:
            raise ProviderError('the lock marker image was imported but cannot be found')
        return found[0]['Id']

    def acquire_lock(self, fleet, holder):
        labels = {LABEL_FLEET: fleet, LABEL_ROLE: ROLE_LOCK}
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
        return sorted(found, key=lambda i: _int((i.get('Labels') or {}).get(LABEL_HISTORY_SEQ), -1))

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
        changes = ['LABEL %s="history" %s="%s" %s="%d" %s="%s"'
                   % (LABEL_RECORD, LABEL_HISTORY_OF, fleet, LABEL_HISTORY_SEQ, seq, LABEL_HISTORY, data)]
        self._call('cannot write the revision history of fleet %s' % fleet, self.api.import_image_from_data,
                   _empty_tar(), repository='%s/fleet-history' % self.repository, tag=fleet, changes=changes)
        for image in images:
            try:
                self.api.remove_image(image['Id'], force=True, noprune=False)
            except (APIError, DockerException, ImageNotFound):
                pass

    # Fleets -----------------------------------------------------------------------------------------------
    def fleets(self):
        names = set()
        for summary in self._call('cannot list containers', self.api.containers, all=True,
                                  filters={'label': LABEL_FLEET}):
            labels = summary.get('Labels') or {}
            if labels.get(LABEL_ROLE) in (ROLE_INSTANCE, ROLE_LB):
                names.add(labels[LABEL_FLEET])
        for image in self._call('cannot list images', self.api.images, filters={'label': LABEL_HISTORY_OF}):
            names.add((image.get('Labels') or {}).get(LABEL_HISTORY_OF))
        return sorted(n for n in names if n)

    def forget(self, fleet):
        for image in self._history_images(fleet):
            try:
                self.api.remove_image(image['Id'], force=True, noprune=False)
            except (APIError, DockerException, ImageNotFound):
                pass
        self.release_lock(fleet)
        name = self.network_name(fleet)
        for net in self._call('cannot list networks', self.api.networks, names=[name]):
            if net.get('Name') == name and (net.get('Labels') or {}).get(LABEL_FLEET) == fleet:
                self._call('cannot remove network %s' % name, self.api.remove_network, net['Id'])

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image records kept in the engine itself (labels and tags), behind a small store interface.

The catalog, the bake and the fleet code read and write images only through ``ImageStore``; the Docker
engine implementation is ``DockerImageStore``. Records are plain dicts (see ``image_record`` and
``channel_entry``).

Channel history (docs/architecture.md, "Channels and their history") is kept as tiny record images: one empty
image per history entry, carrying the entry in ``io.immutable-infra.channel.*`` labels and tagged
``<repository>/<name>.channel-history:<channel>-<seq>``.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import io
import json
import tarfile

from ansible_collections.immutable.infra.plugins.module_utils.semver import (
    SemVer, SemVerError, to_tag,
)

try:
    import docker
    from docker.errors import APIError, DockerException, ImageNotFound, NotFound
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - depends on the controller's Python
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = exc
    DockerException = APIError = ImageNotFound = NotFound = Exception

LABEL_PREFIX = 'io.immutable-infra.'
LABEL_NAME = LABEL_PREFIX + 'name'
LABEL_VERSION = LABEL_PREFIX + 'version'
LABEL_BAKE_KEY = LABEL_PREFIX + 'bake-key'
LABEL_PARENT = LABEL_PREFIX + 'parent'
LABEL_BAKE_CONTAINER = LABEL_PREFIX + 'bake'
# The image's stop signal (docker commit takes no STOPSIGNAL change): instances are created with it.
LABEL_STOP_SIGNAL = LABEL_PREFIX + 'stop-signal'
OCI_REVISION = 'org.opencontainers.image.revision'
OCI_CREATED = 'org.opencontainers.image.created'
VERIFIED_PREFIX = 'verified-'
FAILED_PREFIX = 'failed-'

# Fleet instances: containers labelled with their fleet and the image they were created from.
LABEL_FLEET = LABEL_PREFIX + 'fleet'
LABEL_IMAGE_ID = LABEL_PREFIX + 'image-id'

# Channel history records: one label per field of an entry.
CHANNEL_LABEL_PREFIX = LABEL_PREFIX + 'channel.'
CHANNEL_FIELDS = ('name', 'channel', 'seq', 'action', 'version', 'image-id', 'time', 'previous-version',
                  'previous-image-id')
HISTORY_REPOSITORY_SUFFIX = '.channel-history'


class ImageStoreError(Exception):
    """An engine call failed or an image record is not what was asked for; the message says which."""


def image_ref(repository, name, tag):
    """``immutable/web:1.2.0`` from its parts."""
    return '%s/%s:%s' % (repository, name, tag)


def history_repository(repository, name):
    """``immutable/web.channel-history``: where the history record images of ``name``'s channels are tagged."""
    return '%s/%s%s' % (repository, name, HISTORY_REPOSITORY_SUFFIX)


def history_tag(channel, seq):
    """``prod-000003``: the tag of entry ``seq`` of ``channel``."""
    return '%s-%06d' % (channel, seq)


def format_time(value):
    """An aware datetime as RFC 3339 UTC with seconds (``2026-11-26T15:11:00Z``); None stays None."""
    if value is None:
        return None
    return value.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def parse_time(text):
    """An RFC 3339 time from a label or the engine as an aware UTC datetime, or None."""
    if not text:
        return None
    text = text.strip()
    if text.endswith('Z'):
        text = text[:-1] + '+00:00'
    # The engine reports nanoseconds; datetime takes microseconds.
    if '.' in text:
        head, tail = text.split('.', 1)
        digits = ''
        rest = ''
        for i, char in enumerate(tail):
            if char.isdigit():
                digits += char
            else:
                rest = tail[i:]
                break
        text = head + ('.' + digits[:6] if digits else '') + rest
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


def image_record(attrs, repository):
    """A plain record of one image from the engine's inspect data.

    Keys: id, name, version, tags (tags under ``repository/name``), verified, failed, created, revision,
    bake_key, parent, labels.
    """
    config = attrs.get('Config') or {}
    labels = config.get('Labels') or {}
    name = labels.get(LABEL_NAME)
    version = labels.get(LABEL_VERSION)
    prefix = '%s/%s:' % (repository, name)
    tags = sorted(t[len(prefix):] for t in (attrs.get('RepoTags') or []) if t.startswith(prefix))
    try:
        version_tag = to_tag(version) if version else None
    except SemVerError:
        # A label that is not a semantic version: the image cannot carry a verified or failed tag of it.
        version_tag = None
    created = parse_time(labels.get(OCI_CREATED)) or parse_time(attrs.get('Created'))
    return {
        'id': attrs.get('Id'),
        'name': name,
        'version': version,
        'tags': tags,
        'verified': bool(version_tag) and (VERIFIED_PREFIX + version_tag) in tags,
        'failed': bool(version_tag) and (FAILED_PREFIX + version_tag) in tags,
        'created': created,
        'revision': labels.get(OCI_REVISION),
        'bake_key': labels.get(LABEL_BAKE_KEY),
        'parent': labels.get(LABEL_PARENT),
        'labels': labels,
    }


def channel_entry(attrs):
    """One channel history entry from the inspect data (or list data) of its record image.

    Keys: name, channel, seq (int), action (``promote`` or ``rollback``), version, image_id, time (aware
    datetime), previous_version, previous_image_id (None when the channel pointed nowhere), record_id.
    Raises ``ImageStoreError`` when the labels are not a valid entry.
    """
    labels = (attrs.get('Config') or {}).get('Labels') or attrs.get('Labels') or {}
    values = dict((field, labels.get(CHANNEL_LABEL_PREFIX + field) or None) for field in CHANNEL_FIELDS)
    record_id = attrs.get('Id')
    try:
        seq = int(values['seq'])
    except (TypeError, ValueError):
        seq = None
    if not values['name'] or not values['channel'] or seq is None or seq < 1 or not values['image-id']:
        raise ImageStoreError('image %s is not a valid channel history record (labels %s): remove it with docker '
                              'rmi, it was not written by immutable.infra' % (record_id, sorted(labels)))
    return {
        'name': values['name'],
        'channel': values['channel'],
        'seq': seq,
        'action': values['action'] or 'promote',
        'version': values['version'],
        'image_id': values['image-id'],
        'time': parse_time(values['time']),
        'previous_version': values['previous-version'],
        'previous_image_id': values['previous-image-id'],
        'record_id': record_id,
    }


def _empty_tar():
    buffer = io.BytesIO()
    tarfile.open(fileobj=buffer, mode='w').close()
    return buffer.getvalue()


def _label_change(labels):
    """A Dockerfile ``LABEL`` instruction for ``labels`` (values JSON-quoted)."""
    return 'LABEL ' + ' '.join('%s=%s' % (key, json.dumps(str(value))) for key, value in sorted(labels.items()))


def version_sort_key(record):
    """Sort key: semantic-version precedence, then creation time; unversioned records sort lowest."""
    created = record.get('created') or datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)
    try:
        key = SemVer.parse(record.get('version') or '').precedence_key
        return (1, key, created)
    except SemVerError:
        return (0, (), created)


class DockerImageStore:
    """Image records on a Docker engine. ``client`` is a ``docker.DockerClient``."""

    def __init__(self, client, repository):
        self.client = client
        self.repository = repository

    # Reading ------------------------------------------------------------------------------------------
    def images(self, name=None):
        """Records of every image this collection baked (optionally of one name), newest version first.

        Only images with a tag under this repository (``<repository>/<name>:...``) count: the same engine may
        hold other repositories (tests use their own), and an image with no tag left is not in any catalog.
        """
        label = LABEL_NAME + ('=' + name if name else '')
        try:
            found = self.client.api.images(filters={'label': label})
            records = [image_record(self.client.api.inspect_image(i['Id']), self.repository) for i in found]
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot list images on the engine: %s' % exc)
        return sorted((r for r in records if r['tags']), key=version_sort_key, reverse=True)

    def get(self, ref):
        """The record of ``ref`` (name:tag or image ID), or None when the engine has no such image."""
        try:
            return image_record(self.client.api.inspect_image(ref), self.repository)
        except (ImageNotFound, NotFound):
            return None
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot inspect image %s: %s' % (ref, exc))

    def config(self, ref):
        """``{'Entrypoint': [...] or None, 'Cmd': [...] or None}`` of image ``ref`` (what a child image keeps)."""
        try:
            config = self.client.api.inspect_image(ref).get('Config') or {}
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot inspect image %s: %s' % (ref, exc))
        return {'Entrypoint': config.get('Entrypoint'), 'Cmd': config.get('Cmd')}

    def find(self, name, version):
        """The image tagged ``repository/name:version`` (a candidate, verified or not), or None."""
        record = self.get(image_ref(self.repository, name, to_tag(version)))
        if record is not None and record['name'] != name:
            raise ImageStoreError(
                '%s is not an image baked by immutable.infra for %s (its %s label is %r)'
                % (image_ref(self.repository, name, to_tag(version)), name, LABEL_NAME, record['name']))
        return record

    def find_verified(self, name, version):
        """The image that passed its tests for ``name`` ``version``, or None."""
        return self.get(image_ref(self.repository, name, VERIFIED_PREFIX + to_tag(version)))

    def newest_verified(self, name):
        """The verified image of ``name`` with the highest version, or None."""
        for record in self.images(name):
            if record['verified']:
                return record
        return None

    def containers(self, filters=None):
        """Containers (running or not) as the engine lists them, for usage and orphan checks."""
        try:
            return self.client.api.containers(all=True, filters=filters or {})
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot list containers: %s' % exc)

    def usage(self):
        """Image ID -> containers created from it (running or stopped): list of dicts name, fleet, state."""
        found = {}
        for container in self.containers():
            names = [n.lstrip('/') for n in (container.get('Names') or [])]
            found.setdefault(container.get('ImageID'), []).append({
                'name': names[0] if names else container.get('Id', '')[:12],
                'fleet': (container.get('Labels') or {}).get(LABEL_FLEET),
                'state': container.get('State'),
            })
        for containers in found.values():
            containers.sort(key=lambda c: c['name'])
        return found

    def channel_entries(self, name=None, channel=None):
        """Channel history entries (see ``channel_entry``), optionally of one name and channel, oldest first."""
        labels = [CHANNEL_LABEL_PREFIX + 'seq']
        if name:
            labels.append('%sname=%s' % (CHANNEL_LABEL_PREFIX, name))
        if channel:
            labels.append('%schannel=%s' % (CHANNEL_LABEL_PREFIX, channel))
        try:
            found = self.client.api.images(filters={'label': labels})
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot list channel history records: %s' % exc)
        entries = []
        for image in found:
            entry = channel_entry(image)
            # Only records tagged under this repository belong to this catalog.
            prefix = history_repository(self.repository, entry['name']) + ':'
            if any(tag.startswith(prefix) for tag in image.get('RepoTags') or []):
                entries.append(entry)
        return sorted(entries, key=lambda e: (e['name'], e['channel'], e['seq']))

    # Writing ------------------------------------------------------------------------------------------
    def add_channel_entry(self, entry):
        """Write one history entry (a dict as ``channel_entry`` returns, without record_id) as a record image.

        Returns the record image ID.
        """
        labels = {
            CHANNEL_LABEL_PREFIX + 'name': entry['name'],
            CHANNEL_LABEL_PREFIX + 'channel': entry['channel'],
            CHANNEL_LABEL_PREFIX + 'seq': str(entry['seq']),
            CHANNEL_LABEL_PREFIX + 'action': entry['action'],
            CHANNEL_LABEL_PREFIX + 'version': entry['version'] or '',
            CHANNEL_LABEL_PREFIX + 'image-id': entry['image_id'],
            CHANNEL_LABEL_PREFIX + 'time': format_time(entry['time']),
            CHANNEL_LABEL_PREFIX + 'previous-version': entry['previous_version'] or '',
            CHANNEL_LABEL_PREFIX + 'previous-image-id': entry['previous_image_id'] or '',
        }
        repository = history_repository(self.repository, entry['name'])
        tag = history_tag(entry['channel'], entry['seq'])
        try:
            output = self.client.api.import_image_from_data(_empty_tar(), repository=repository, tag=tag,
                                                            changes=[_label_change(labels)])
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot write channel history record %s:%s: %s' % (repository, tag, exc))
        record_id = None
        for line in (output or '').splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get('error') or message.get('errorDetail'):
                raise ImageStoreError('cannot write channel history record %s:%s: %s'
                                      % (repository, tag, message.get('error') or message.get('errorDetail')))
            if str(message.get('status', '')).startswith('sha256:'):
                record_id = message['status']
        return record_id

    def delete_image(self, image_id):
        """Take every tag off an image and delete it, never by force: the engine refuses when a container
        uses it (raises ``ImageStoreError``). Nothing happens when the image is gone already."""
        try:
            tags = self.client.api.inspect_image(image_id).get('RepoTags') or []
            for ref in tags:
                self.client.api.remove_image(ref, noprune=False)
            try:
                self.client.api.inspect_image(image_id)
            except (ImageNotFound, NotFound):
                return
            self.client.api.remove_image(image_id, noprune=False)
        except (ImageNotFound, NotFound):
            return
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot remove image %s: %s' % (image_id, exc))

    def tag(self, image_id, name, tag):
        try:
            self.client.api.tag(image_id, '%s/%s' % (self.repository, name), tag, force=True)
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot tag %s as %s: %s'
                                  % (image_id, image_ref(self.repository, name, tag), exc))

    def untag(self, name, tag):
        """Remove one tag. The image itself goes only when that was its last tag and nothing uses it."""
        ref = image_ref(self.repository, name, tag)
        try:
            self.client.api.remove_image(ref, noprune=False)
        except (ImageNotFound, NotFound):
            return
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot remove tag %s: %s' % (ref, exc))

    def remove_image(self, image_id):
        try:
            self.client.api.remove_image(image_id, force=True, noprune=False)
        except (ImageNotFound, NotFound):
            return
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot remove image %s: %s' % (image_id, exc))

    def remove_container(self, container_id):
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except NotFound:
            return
        except (APIError, DockerException) as exc:
            raise ImageStoreError('cannot remove container %s: %s' % (container_id, exc))


def docker_client(docker_host=None, timeout=60):
    """A Docker client for ``docker_host`` (or DOCKER_HOST, or the local socket)."""
    if not HAS_DOCKER:
        raise ImageStoreError('the Python docker SDK is required on the controller (pip install docker): %s'
                              % DOCKER_IMPORT_ERROR)
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
    except DockerException as exc:
        raise ImageStoreError('cannot reach the Docker engine at %s: %s (is it running? run make setup)'
                              % (docker_host or 'DOCKER_HOST or the local socket', exc))
    return client

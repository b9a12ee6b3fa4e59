# -*- coding: utf-8 -*-
"""An in-memory Docker engine behind the low-level API calls DockerImageStore makes (``client.api``).

Unit tests of the catalog run the real DockerImageStore against it, so the boundary faked is the engine's API,
not our own store. It behaves like the engine where the catalog relies on it: tags point at image IDs, an image
goes with its last tag unless a container uses it, removing an image by ID needs force when it has several tags
or a container uses it, label filters select images.
"""

import hashlib
import json
import shlex

from docker.errors import APIError, ImageNotFound

from ansible_collections.immutable.infra.plugins.module_utils.images import DockerImageStore

REPOSITORY = 'immutable'


class FakeAPI:
    def __init__(self):
        self.images_by_id = {}     # id -> {'Labels': {...}, 'Created': str}
        self.tags = {}             # 'immutable/web:1.2.0' -> id
        self.container_list = []   # as the engine's container list gives them
        self.calls = []            # (method, args) of every call that changes something
        self._counter = 0

    # Helpers for tests -------------------------------------------------------------------------------
    def new_id(self, seed):
        self._counter += 1
        return 'sha256:' + hashlib.sha256(('%s-%d' % (seed, self._counter)).encode()).hexdigest()

    def add_image(self, labels, tags=(), created='2026-01-01T00:00:00Z', image_id=None):
        image_id = image_id or self.new_id(json.dumps(labels, sort_keys=True))
        self.images_by_id[image_id] = {'Labels': dict(labels), 'Created': created}
        for ref in tags:
            self.tags[ref] = image_id
        return image_id

    def add_container(self, name, image_id, fleet=None, state='exited'):
        labels = {'io.immutable-infra.fleet': fleet} if fleet else {}
        self.container_list.append({'Id': 'c%d' % len(self.container_list), 'Names': ['/' + name],
                                    'Image': image_id, 'ImageID': image_id, 'Labels': labels, 'State': state})

    def repo_tags(self, image_id):
        return sorted(ref for ref, target in self.tags.items() if target == image_id)

    def _resolve(self, ref):
        if ref in self.tags:
            return self.tags[ref]
        if ref in self.images_by_id:
            return ref
        raise ImageNotFound('No such image: %s' % ref)

    def _used(self, image_id):
        return [c for c in self.container_list if c['ImageID'] == image_id]

    # The API -----------------------------------------------------------------------------------------
    def ping(self):
        return True

    def images(self, filters=None):
        wanted = (filters or {}).get('label') or []
        if isinstance(wanted, str):
            wanted = [wanted]
        found = []
        for image_id, image in self.images_by_id.items():
            labels = image['Labels']
            ok = True
            for condition in wanted:
                key, sep, value = condition.partition('=')
                if key not in labels or (sep and labels[key] != value):
                    ok = False
            if ok:
                found.append({'Id': image_id, 'Labels': dict(labels), 'RepoTags': self.repo_tags(image_id)})
        return found

    def inspect_image(self, ref):
        image_id = self._resolve(ref)
        image = self.images_by_id[image_id]
        return {'Id': image_id, 'RepoTags': self.repo_tags(image_id), 'Created': image['Created'],
                'Config': {'Labels': dict(image['Labels'])}}

    def tag(self, image, repository, tag=None, force=False):
        self.calls.append(('tag', (image, repository, tag)))
        self.tags['%s:%s' % (repository, tag)] = self._resolve(image)
        return True

    def remove_image(self, image, force=False, noprune=False):
        self.calls.append(('remove_image', (image, force)))
        if image in self.tags:
            image_id = self.tags[image]
            if len(self.repo_tags(image_id)) == 1 and self._used(image_id) and not force:
                raise APIError('conflict: unable to remove repository reference "%s" (must force) - container '
                               'is using its referenced image' % image)
            del self.tags[image]
            if not self.repo_tags(image_id) and not self._used(image_id):
                del self.images_by_id[image_id]
            return
        image_id = self._resolve(image)
        if not force and (len(self.repo_tags(image_id)) > 1 or self._used(image_id)):
            raise APIError('conflict: unable to delete %s (must be forced)' % image_id[7:19])
        for ref in self.repo_tags(image_id):
            del self.tags[ref]
        del self.images_by_id[image_id]

    def containers(self, all=False, filters=None):  # pylint: disable=redefined-builtin
        return [dict(c) for c in self.container_list if all or c['State'] == 'running']

    def import_image_from_data(self, data, repository=None, tag=None, changes=None):
        self.calls.append(('import_image_from_data', (repository, tag, changes)))
        labels = {}
        for change in changes or []:
            words = shlex.split(change)
            assert words[0] == 'LABEL', change
            for word in words[1:]:
                key, _sep, value = word.partition('=')
                labels[key] = value
        image_id = self.add_image(labels, tags=['%s:%s' % (repository, tag)], created='2026-02-01T00:00:00Z')
        return '{"status":"%s"}\r\n' % image_id


class FakeClient:
    def __init__(self, api=None):
        self.api = api or FakeAPI()


def make_store(repository=REPOSITORY):
    api = FakeAPI()
    return DockerImageStore(FakeClient(api), repository), api


def add_baked(api, name, version, verified=True, failed=False, parent=None, created='2026-01-01T00:00:00Z',
              repository=REPOSITORY, version_tag=True):
    """An image as a bake leaves it: labels, the version tag, and the verdict tag."""
    labels = {
        'io.immutable-infra.name': name,
        'io.immutable-infra.version': version,
        'io.immutable-infra.bake-key': hashlib.sha256(('%s %s' % (name, version)).encode()).hexdigest(),
        'org.opencontainers.image.created': created,
        'org.opencontainers.image.revision': 'abc123',
    }
    if parent:
        labels['io.immutable-infra.parent'] = parent
    tag = version.replace('+', '_')
    tags = []
    if version_tag and not failed:
        tags.append('%s/%s:%s' % (repository, name, tag))
    if verified:
        tags.append('%s/%s:verified-%s' % (repository, name, tag))
    if failed:
        tags.append('%s/%s:failed-%s' % (repository, name, tag))
    return api.add_image(labels, tags, created=created)

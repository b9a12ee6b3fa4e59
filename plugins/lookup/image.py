# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: image
short_description: Resolve an image by channel or version to its image ID
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Returns the image ID (C(sha256:...)) of an image baked by immutable.infra, so a deployment pins exactly one
    image even when the channel moves on afterwards. C(docker run) and C(community.docker.docker_container)
    accept the ID as the image.
  - With O(channel), the image the channel points at (see M(immutable.infra.image_channel)).
  - With O(version=latest), the verified image with the highest version (semantic-version precedence).
  - With O(version=X.Y.Z), the verified image of that version.
  - Unknown images, channels and versions, unverified versions and invalid input are errors.
options:
  _terms:
    description: Image names (C(web)); one image ID is returned per name.
    required: true
    type: list
    elements: str
  channel:
    description: Channel to resolve (C(prod)). Exactly one of O(channel) and O(version).
    type: str
  version:
    description: C(latest) or a semantic version. Exactly one of O(channel) and O(version).
    type: str
  provider:
    description:
      - The provider the images are on, by its name in the collection's provider registry.
    type: str
    default: docker
    choices: [docker]
    version_added: 0.2.0
  docker_host:
    description:
      - URL of the Docker engine API, for example C(unix:///var/run/docker.sock).
      - When not set, C(DOCKER_HOST) and then the local socket are used.
    type: str
  repository:
    description: Repository prefix of the images, which are tagged C(<repository>/<name>:<version>).
    type: str
    default: immutable
requirements:
  - docker (Python SDK) >= 5.0 on the controller
seealso:
  - module: immutable.infra.image_channel
  - module: immutable.infra.image_info
'''

EXAMPLES = r'''
- name: Run what prod of web points at, pinned by ID
  community.docker.docker_container:
    name: web-1
    image: "{{ lookup('immutable.infra.image', 'web', channel='prod') }}"

- name: The newest verified web
  ansible.builtin.debug:
    msg: "{{ lookup('immutable.infra.image', 'web', version='latest') }}"

- name: A given version, from another repository prefix
  ansible.builtin.set_fact:
    web_image: "{{ lookup('immutable.infra.image', 'web', version='1.2.0', repository='itest') }}"
'''

RETURN = r'''
_raw:
  description: One image ID (C(sha256:<hex>)) per name given.
  type: list
  elements: str
  sample: ["sha256:4c1f0e7d9a6b3e2f..."]
'''

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.catalog_store import resolve
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_image_store


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        channel = self.get_option('channel')
        version = self.get_option('version')
        if not terms:
            raise AnsibleLookupError("immutable.infra.image: pass an image name, for example "
                                     "lookup('immutable.infra.image', 'web', channel='prod')")
        results = []
        try:
            store = get_image_store(self.get_option('provider'), dict(
                docker_host=self.get_option('docker_host'), repository=self.get_option('repository')))
            for name in terms:
                if not isinstance(name, str) or not name:
                    raise CatalogError('image names must be non-empty strings, got %r' % (name,))
                results.append(resolve(store, name, channel=channel, version=version)['id'])
        except (CatalogError, ImageStoreError) as exc:
            raise AnsibleLookupError('immutable.infra.image: %s' % exc)
        return results

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
module: image_info
short_description: List the baked images, their channels and who uses them
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Lists the images baked by immutable.infra on the engine, read from their labels and tags, newest first by
    semantic-version precedence within each name (C(1.10.0) before C(1.9.0), C(1.0.0) before C(1.0.0-rc.1)).
  - For each image - version, image ID, creation time, git revision, bake key, parent, whether it passed
    (C(verified)) or failed its image tests, the channels that point at it, and the containers (running or
    stopped) and fleets using it.
  - Also returns the channels with their history.
  - Unknown names, versions and channels and invalid version or channel names are errors, not empty lists, so a
    typo does not look like an empty catalog.
extends_documentation_fragment:
  - immutable.infra.engine
  - ansible.builtin.action_common_attributes
options:
  name:
    description: Only images of this name (C(web)). All names when not set.
    type: str
  version:
    description: Only the images of this semantic version.
    type: str
  channel:
    description: Only the images this channel points at (one per name), and only this channel in RV(channels).
    type: str
attributes:
  check_mode:
    support: full
    details: The module only reads.
  diff_mode:
    support: none
  platform:
    platforms: posix
    details: Runs on the controller and talks to the engine's API.
'''

EXAMPLES = r'''
- name: List every image
  immutable.infra.image_info:
  register: catalog

- name: What does prod of web run?
  immutable.infra.image_info:
    name: web
    channel: prod
  register: web_prod

- name: Show the catalog as a table
  ansible.builtin.debug:
    msg: "{{ catalog.images | immutable.infra.image_table }}"
'''

RETURN = r'''
images:
  description: The images, names in order, newest version first within a name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Image name.
      type: str
      sample: web
    version:
      description: Semantic version (from the C(io.immutable-infra.version) label).
      type: str
      sample: 1.2.0
    id:
      description: Image ID.
      type: str
      sample: sha256:4c1f0e7d9a6b...
    created:
      description: Bake time, RFC 3339 UTC.
      type: str
      sample: "2026-11-26T15:11:00Z"
    revision:
      description: Git revision of the collection the image was baked from.
      type: str
      sample: 0b06293c1f...
    bake_key:
      description: sha256 over everything that went into the image.
      type: str
      sample: 9b0c4d1e2f...
    parent:
      description: Image ID of the parent image.
      type: str
      sample: sha256:77aa01...
    verified:
      description: Whether the image passed its image tests (carries C(verified-<version>)).
      type: bool
      sample: true
    failed:
      description: Whether the image failed its image tests (carries C(failed-<version>)).
      type: bool
      sample: false
    tags:
      description: Its tags under C(<repository>/<name>).
      type: list
      elements: str
      sample: ["1.2.0", "prod", "verified-1.2.0"]
    channels:
      description: Channels pointing at the image.
      type: list
      elements: str
      sample: [prod]
    containers:
      description: Names of the containers created from the image, running or stopped.
      type: list
      elements: str
      sample: [web-1, web-2]
    fleets:
      description: Fleets (C(io.immutable-infra.fleet) label) of those containers.
      type: list
      elements: str
      sample: [web]
  sample:
    - {name: web, version: 1.2.0, id: "sha256:4c1f...", verified: true, failed: false, channels: [prod],
       containers: [web-1], fleets: [web]}
channels:
  description: The channels (of the listed names), with their history.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Image name.
      type: str
      sample: web
    channel:
      description: Channel name.
      type: str
      sample: prod
    version:
      description: Version the channel tag points at, null when only its history is left.
      type: str
      sample: 1.2.0
    image_id:
      description: Image ID the channel tag points at.
      type: str
      sample: sha256:4c1f...
    history:
      description: Assignments, newest first (seq, action, version, image_id, time, previous_version, previous_image_id).
      type: list
      elements: dict
      sample:
        - {seq: 2, action: promote, version: 1.2.0, image_id: "sha256:4c1f...", time: "2026-11-26T16:00:00Z",
           previous_version: 1.1.0, previous_image_id: "sha256:9e2a..."}
  sample:
    - {name: web, channel: prod, version: 1.2.0, image_id: "sha256:4c1f...", history: []}
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.catalog import CatalogError
from ansible_collections.immutable.infra.plugins.module_utils.catalog_store import list_catalog
from ansible_collections.immutable.infra.plugins.module_utils.common import engine_argument_spec
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_image_store


def main():
    module = AnsibleModule(
        argument_spec=engine_argument_spec(
            name=dict(type='str'),
            version=dict(type='str'),
            channel=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        store = get_image_store(p['provider'], p)
        images, channels = list_catalog(store, p['name'], p['version'], p['channel'])
    except (CatalogError, ImageStoreError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, images=images, channels=channels)


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type


class ModuleDocFragment(object):
    """Options shared by every module that talks to the container engine."""

    DOCUMENTATION = r'''
options:
  provider:
    description:
      - The provider the images and fleets are on, by its name in the collection's provider registry
        (C(plugins/module_utils/provider/registry.py)).
      - A fleet spec is checked against what the provider can do before anything changes, for example the
        C(canary) strategy needs a provider with weighted traffic.
    type: str
    default: docker
    choices: [docker]
    version_added: 0.2.0
  docker_host:
    description:
      - URL of the Docker engine API (provider C(docker)), for example C(unix:///var/run/docker.sock) or
        C(tcp://127.0.0.1:2375).
      - When not set, C(DOCKER_HOST) and then the local socket are used.
    type: str
  repository:
    description:
      - Repository prefix of the images, which are tagged C(<repository>/<name>:<version>).
    type: str
    default: immutable
requirements:
  - docker (Python SDK) >= 5.0 on the controller, for the C(docker) provider
notes:
  - 'The engine is the record: versions, verification, channels and fleets live in image labels and tags and
    container labels, not in a file on the controller.'
'''

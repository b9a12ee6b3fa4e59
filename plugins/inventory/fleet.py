# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
name: fleet
short_description: Read-only inventory of the running instances of immutable.infra fleets
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Lists the instances (containers) of every fleet from the engine's own records (container labels), grouped by
    fleet, revision and version, for AWX inventory sources, audits and ad-hoc read-only checks.
  - Hosts connect through the engine (C(community.docker.docker)), so C(ansible -m ansible.builtin.stat) and
    similar read-only checks work. The bake roles refuse to run on these hosts (the sealed-image marker).
  - 'Groups: C(fleet_<fleet>), C(fleet_<fleet>_revision_<n>), C(fleet_<fleet>_version_<version>) (characters that are
    not valid in group names become C(_)), plus C(fleet_instances) holding every instance.'
extends_documentation_fragment:
  - constructed
options:
  plugin:
    description: Marks this file as an inventory source of this plugin.
    type: str
    required: true
    choices: [immutable.infra.fleet]
  provider:
    description:
      - The provider the fleets run on, by its name in the collection's provider registry; it lists the instances
        and says how to connect to them.
    type: str
    default: docker
    choices: [docker]
    version_added: 0.2.0
  docker_host:
    description: URL of the Docker engine API; C(DOCKER_HOST) or the local socket when not set.
    type: str
  fleets:
    description: Only these fleets; all fleets when empty.
    type: list
    elements: str
    default: []
  include_stopped:
    description: Also list instances that are not running (C(stopped), C(failed), C(pending)).
    type: bool
    default: false
requirements:
  - docker (Python SDK) on the controller, for the C(docker) provider
'''

EXAMPLES = r'''
# inventory/fleets.immutable.yml (the file name must end in immutable.yml or immutable.yaml, or fleet.yml)
plugin: immutable.infra.fleet
fleets: [web]
keyed_groups:
  - key: immutable_version
    prefix: v
'''

import re

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import ProviderError
from ansible_collections.immutable.infra.plugins.module_utils.provider.registry import get_provider


def group_safe(text):
    return re.sub(r'[^A-Za-z0-9_]', '_', str(text))


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = 'immutable.infra.fleet'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(
            ('immutable.yml', 'immutable.yaml', 'fleet.yml', 'fleet.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            provider = get_provider(self.get_option('provider'), dict(docker_host=self.get_option('docker_host')))
            instances = provider.all_instances(include_stopped=self.get_option('include_stopped'))
        except (ImageStoreError, ProviderError) as exc:
            raise AnsibleParserError('immutable.infra.fleet: %s' % exc)
        except Exception as exc:  # an engine SDK raises several types for engine errors
            raise AnsibleParserError('immutable.infra.fleet: cannot list containers: %s' % exc)
        wanted = set(self.get_option('fleets') or [])
        self.inventory.add_group('fleet_instances')
        for instance in instances:
            if wanted and instance.fleet not in wanted:
                continue
            self._add_instance(provider, instance)

    def _add_instance(self, provider, instance):
        fleet = instance.fleet
        revision = None if instance.revision is None else str(instance.revision)
        host = self.inventory.add_host(instance.name, group='fleet_instances')
        hostvars = dict(provider.connection_vars(instance))
        hostvars.update({
            'ansible_python_interpreter': '/usr/bin/python3',
            'immutable_fleet': fleet,
            'immutable_revision': revision,
            'immutable_version': instance.version,
            'immutable_image_id': instance.image_id,
            'immutable_instance_state': instance.state,
            'immutable_engine_state': instance.engine_state,
            'immutable_container_id': instance.id,
        })
        for key, value in hostvars.items():
            self.inventory.set_variable(host, key, value)
        groups = ['fleet_%s' % group_safe(fleet)]
        if revision:
            groups.append('fleet_%s_revision_%s' % (group_safe(fleet), group_safe(revision)))
        if instance.version:
            groups.append('fleet_%s_version_%s' % (group_safe(fleet), group_safe(instance.version)))
        for group in groups:
            self.inventory.add_group(group)
            self.inventory.add_child(group, host)
        strict = self.get_option('strict')
        self._set_composite_vars(self.get_option('compose'), hostvars, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), hostvars, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), hostvars, host, strict=strict)

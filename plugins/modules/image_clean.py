#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: image_clean
short_description: Remove what must not be baked into an image, in one run
version_added: 0.2.0
author: immutable.infra developers (@immutable-infra)
description:
  - Cleans an image at the end of its bake in one module run, so one round trip to the build container instead
    of a task per step. The C(image_seal) role runs it before the secret scan and the manifest.
  - 'Each part, in this order: O(apt) (the apt package lists and caches), O(logs) (log files truncated),
    O(temporary_paths) (emptied), O(history_files) (in every home), O(ssh_host_keys), O(machine_id), and
    O(pycache_paths) (C(__pycache__) folders).'
  - Idempotent. It looks for what is left and changes only that, so cleaning a clean image reports no change.
  - Mount points below O(root) are never removed, emptied, truncated, re-dated nor entered to change something
    in them, such as a package cache a bake bind-mounts at C(/var/cache/apt/archives) or
    C(/var/lib/apt/lists), whose content is not committed into the image anyway. A folder that holds a mount
    point is emptied around it. The mount points that are or hold something the cleaning would otherwise change
    are returned in RV(mounts_left). They are read from C(/proc/self/mountinfo) (C(os.path.ismount) when it
    cannot be read).
  - The module leaves alone its own payload, which Ansible writes to the system's temporary folder for the time
    of the run and removes afterwards.
  - The options are checked before anything changes. Symbolic links met in the cleaned folders are never
    followed (a link is removed, not what it points to); C(/etc/machine-id) is emptied through a link, as
    C(truncate) would.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Returns what would be removed, truncated, created and updated; nothing is changed.
  diff_mode:
    support: full
    details: One line per path that goes or changes, with its type, size, mode and owner before and after.
  platform:
    platforms: posix
options:
  root:
    description:
      - Root of the tree to clean. Every other path is a path of the image, looked up under it.
      - V(/) inside a bake. Another folder cleans an image's tree mounted there; the homes of O(history_files)
        then come from its C(etc/passwd).
    type: path
    default: /
  apt:
    description:
      - Empty C(/var/lib/apt/lists) and C(/var/cache/apt) (what C(apt-get clean) does, plus the package lists).
        Both folders stay (they are created when missing), owner root and mode V(0755).
      - C(/var/lib/apt/lists) is then dated 1970-01-01 00:00 UTC and C(/var/lib/apt/periodic/update-success-stamp)
        is removed, so that apt's C(cache_valid_time) in the next layered bake runs C(apt-get update) instead of
        trusting lists that are gone.
    type: bool
    default: true
  logs:
    description:
      - Truncate every regular file under C(/var/log) that is not empty to 0 bytes. The files stay, with their
        owners and modes, for the programs that expect them.
    type: bool
    default: true
  temporary_paths:
    description:
      - Folders of the image to empty; the folders stay, with their modes. A folder that does not exist is skipped.
      - Packer's C(/tmp/packer*) and Ansible's C(/tmp/ansible*) go with the rest.
      - V(/) is refused.
    type: list
    elements: path
    default: [/tmp, /var/tmp]
  history_files:
    description:
      - Names of the history files removed from the home folder of every account (root's included), the homes
        coming from the passwd database. Regular files and symbolic links of these names are removed.
      - An empty list keeps every history file.
    type: list
    elements: str
    default:
      - .bash_history
      - .sh_history
      - .ash_history
      - .zsh_history
      - .python_history
      - .lesshst
      - .viminfo
      - .wget-hsts
  ssh_host_keys:
    description:
      - Remove the SSH host keys, every C(ssh_host_*) entry one or two levels under C(/etc), so that every
        instance generates its own. Nothing happens on an image without SSH.
    type: bool
    default: true
  machine_id:
    description:
      - Empty C(/etc/machine-id) (created when missing), owner root and mode V(0444), and remove
        C(/var/lib/dbus/machine-id), so that systemd generates an ID on each instance's first boot.
    type: bool
    default: true
  pycache_paths:
    description:
      - Folders of the image under which every C(__pycache__) folder (Python byte-code caches) is removed.
    type: list
    elements: path
    default: [/root]
notes:
  - Run it as root (the image's owner and modes are set to root only then).
  - The C(image_seal) role sets O(history_files) from its variable C(image_seal_history_files).
'''

EXAMPLES = r'''
- name: Remove what must not be baked into the image
  immutable.infra.image_clean:

- name: Clean the image but keep the logs, with one more temporary folder
  immutable.infra.image_clean:
    logs: false
    temporary_paths:
      - /tmp
      - /var/tmp
      - /srv/app/cache

- name: Show what would go, without changing anything
  immutable.infra.image_clean:
  check_mode: true
  diff: true
  register: leftovers
'''

RETURN = r'''
removed:
  description: Paths removed (a folder with everything in it), sorted.
  returned: always
  type: list
  elements: str
  sample: [/etc/ssh/ssh_host_ed25519_key, /root/.bash_history, /tmp/packer-provisioner-ansible1234]
truncated:
  description: Files truncated to 0 bytes (log files, the machine ID), sorted.
  returned: always
  type: list
  elements: str
  sample: [/etc/machine-id, /var/log/apt/history.log, /var/log/dpkg.log]
emptied:
  description: Folders whose content was removed (the apt folders, the temporary folders), sorted.
  returned: always
  type: list
  elements: str
  sample: [/tmp, /var/cache/apt, /var/lib/apt/lists]
created:
  description: Paths created (a missing apt folder or machine ID), sorted.
  returned: always
  type: list
  elements: str
  sample: [/etc/machine-id]
updated:
  description: Existing paths whose mode, owner or modification time was set, sorted.
  returned: always
  type: list
  elements: str
  sample: [/etc/machine-id, /var/lib/apt/lists]
mounts_left:
  description:
    - Mount points left in place with their content, because they are or hold something the cleaning would
      otherwise have changed, sorted.
  returned: always
  type: list
  elements: str
  sample: [/var/cache/apt/archives]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.image_clean import (
    DEFAULT_HISTORY_FILES,
    DEFAULT_OPTIONS,
    DEFAULT_PYCACHE_PATHS,
    DEFAULT_TEMPORARY_PATHS,
    ImageCleanError,
    clean,
    payload_folder,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            root=dict(type='path', default='/'),
            apt=dict(type='bool', default=True),
            logs=dict(type='bool', default=True),
            temporary_paths=dict(type='list', elements='path', default=list(DEFAULT_TEMPORARY_PATHS)),
            history_files=dict(type='list', elements='str', default=list(DEFAULT_HISTORY_FILES)),
            ssh_host_keys=dict(type='bool', default=True),
            machine_id=dict(type='bool', default=True),
            pycache_paths=dict(type='list', elements='path', default=list(DEFAULT_PYCACHE_PATHS)),
        ),
        supports_check_mode=True,
    )
    options = dict((key, module.params[key]) for key in DEFAULT_OPTIONS)
    keep = [folder for folder in (payload_folder(), payload_folder(__file__)) if folder]
    try:
        result = clean(module.params['root'], options, check_mode=module.check_mode, keep=keep)
    except ImageCleanError as exc:
        module.fail_json(msg=str(exc))
    else:
        diff = result.pop('diff')
        if module._diff:
            result['diff'] = diff
        module.exit_json(**result)


if __name__ == '__main__':
    main()

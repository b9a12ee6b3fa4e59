#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: image_files
short_description: Put a set of folders and files into place in one run
version_added: 0.2.0
author: immutable.infra developers (@immutable-infra)
description:
  - Creates folders, writes files and removes paths of an image in one module run. It exists to keep the bake
    roles to few tasks, since each task costs a C(docker exec) into the build container and a Python start-up
    (a M(ansible.builtin.template) task costs about three of them); one run of this module replaces a
    M(ansible.builtin.file) task per folder and a M(ansible.builtin.template) task per file.
  - No file is transferred. The contents are module arguments, usually rendered on the controller from a role's
    templates with C(lookup('ansible.builtin.template', 'name.j2')).
  - 'The changes are made in this order: the O(absent) paths are removed, the O(directories) created or updated
    (a folder before the folders below it), then the O(files) written in the order given.'
  - Every item is checked before anything changes (absolute paths, known owners and groups, modes, validate
    commands, no path given twice, no file above another item, no removal of a listed path or of a folder above
    one); a wrong item fails the run naming it, with nothing changed.
  - A file whose content changes is written to a temporary file in its own folder, given its owner, group and
    mode, flushed to disk, checked with its O(files[].validate) command, and renamed over the old file, so the old
    file stays whole until the new one replaces it in one step. A file that fails its check is not written, the
    run fails, and what was changed before it (removals, folders and the files listed before it) stays changed.
  - Idempotent. Only what differs is changed, so a second run with the same arguments reports no change.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Returns what would be created, updated and removed; nothing is changed and no validate command runs.
  diff_mode:
    support: full
    details:
      - The old and new content of every file whose content changes, and one line per path that is created,
        updated or removed, with its type, size, mode, owner and group before and after.
  platform:
    platforms: posix
options:
  directories:
    description:
      - Folders that must exist, with their owner, group and mode. A missing folder is created, along with
        missing folders above it, which get the same owner, group and mode. An existing folder gets its owner,
        group and mode set; what it holds is left alone.
      - A symbolic link to a folder stands for the folder (its target gets the attributes), as with
        M(ansible.builtin.file). Anything else at the path fails the run.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the folder.
        type: path
        required: true
      owner:
        description: User that owns the folder, a name or a numeric UID.
        type: raw
        required: true
      group:
        description: Group of the folder, a name or a numeric GID.
        type: raw
        required: true
      mode:
        description:
          - Permissions as a quoted octal string of 3 or 4 digits, such as V('0755') or V('2775').
          - A number is refused, since YAML reads an unquoted C(0755) as the number 493.
        type: raw
        required: true
  files:
    description:
      - Files that must exist with this content, owner, group and mode.
      - Their folder must exist or be listed in O(directories). A folder at the path fails the run; a symbolic link
        (or any other non-folder) at the path is replaced by the file.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description:
          - The whole content of the file, a string written as UTF-8. Usually
            C(lookup('ansible.builtin.template', 'name.j2')).
        type: raw
        required: true
      owner:
        description: User that owns the file, a name or a numeric UID.
        type: raw
        required: true
      group:
        description: Group of the file, a name or a numeric GID.
        type: raw
        required: true
      mode:
        description:
          - Permissions as a quoted octal string of 3 or 4 digits, such as V('0644') or V('0600').
          - A number is refused, since YAML reads an unquoted C(0644) as the number 420.
        type: raw
        required: true
      validate:
        description:
          - Command that checks the new content before it replaces the file, as the
            M(ansible.builtin.template) module's C(validate) does. C(%s) stands for the path of the temporary file
            that holds the new content, in the same folder as the file, with the file's owner, group and mode.
          - The command line is split into arguments like a shell would, but runs without a shell (no pipes nor
            redirections). The file is written only when the command exits with 0.
          - Runs only when the content changes, and never in check mode.
        type: str
  absent:
    description:
      - Paths that must not exist. A file or a symbolic link is removed (never what the link points to), a folder
        with everything in it.
      - V(/) and any folder above a path listed in O(directories) or O(files) are refused.
    type: list
    elements: path
    default: []
notes:
  - Run it as root (become) to set owners other than the connecting user's.
  - Owners and groups given by name must exist on the target when the module runs; create them in an earlier task.
  - SELinux contexts are not managed.
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.file
'''

EXAMPLES = r'''
- name: Put nginx's folders, configuration and page into place
  immutable.infra.image_files:
    absent:
      - /etc/nginx/sites-enabled/default
    directories:
      - path: /var/www/app
        owner: root
        group: root
        mode: "0755"
      - path: /var/lib/nginx/body
        owner: www-data
        group: www-data
        mode: "0700"
    files:
      - path: /etc/nginx/nginx.conf
        content: "{{ lookup('ansible.builtin.template', 'nginx.conf.j2') }}"
        owner: root
        group: root
        mode: "0644"
        validate: nginx -t -q -c %s
      - path: /var/www/app/index.html
        content: "{{ lookup('ansible.builtin.template', 'index.html.j2') }}"
        owner: root
        group: root
        mode: "0644"

- name: Write a file owned by a numeric user and group, showing what would change
  immutable.infra.image_files:
    files:
      - path: /srv/app/app.env
        content: "PORT=8080\n"
        owner: 10001
        group: "10001"
        mode: "0640"
  check_mode: true
  diff: true
'''

RETURN = r'''
changed_paths:
  description: Paths created, updated or removed (in check mode, that would be), sorted.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/nginx.conf, /etc/nginx/sites-enabled/default, /var/lib/nginx/body]
directories:
  description: One entry per item of O(directories), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Path of the folder.
      returned: always
      type: str
      sample: /var/lib/nginx/body
    state:
      description: V(created), V(updated) (owner, group or mode set) or V(unchanged).
      returned: always
      type: str
      sample: created
    changes:
      description: For V(updated), what was set among V(owner), V(group) and V(mode); else empty.
      returned: always
      type: list
      elements: str
      sample: [owner, mode]
    owner:
      description: UID the folder has.
      returned: always
      type: int
      sample: 10001
    group:
      description: GID the folder has.
      returned: always
      type: int
      sample: 10001
    mode:
      description: Mode the folder has, in octal.
      returned: always
      type: str
      sample: "0700"
files:
  description: One entry per item of O(files), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Path of the file.
      returned: always
      type: str
      sample: /etc/nginx/nginx.conf
    state:
      description: V(created), V(updated) (content or attributes) or V(unchanged).
      returned: always
      type: str
      sample: updated
    changes:
      description:
        - For V(updated), what changed among V(type) (a link or other non-folder replaced by the file),
          V(content), V(owner), V(group) and V(mode); else empty.
      returned: always
      type: list
      elements: str
      sample: [content]
    owner:
      description: UID the file has.
      returned: always
      type: int
      sample: 0
    group:
      description: GID the file has.
      returned: always
      type: int
      sample: 0
    mode:
      description: Mode the file has, in octal.
      returned: always
      type: str
      sample: "0644"
absent:
  description: One entry per item of O(absent), in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The path.
      returned: always
      type: str
      sample: /etc/nginx/sites-enabled/default
    state:
      description: V(removed), or V(absent) when there was nothing to remove.
      returned: always
      type: str
      sample: removed
    type:
      description: What was removed, V(file), V(directory), V(link) or V(other); V(null) when nothing was there.
      returned: always
      type: str
      sample: link
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.image_files import (
    ImageFilesError,
    put,
)


def main():
    attributes = dict(
        path=dict(type='path', required=True),
        owner=dict(type='raw', required=True),
        group=dict(type='raw', required=True),
        mode=dict(type='raw', required=True),
    )
    file_options = dict(attributes, content=dict(type='raw', required=True), validate=dict(type='str'))
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type='list', elements='dict', default=[], options=attributes),
            files=dict(type='list', elements='dict', default=[], options=file_options),
            absent=dict(type='list', elements='path', default=[]),
        ),
        supports_check_mode=True,
    )
    try:
        result = put(module.params['directories'], module.params['files'], module.params['absent'],
                     check_mode=module.check_mode)
    except ImageFilesError as exc:
        module.fail_json(msg=str(exc), changed=bool(exc.changed_paths), changed_paths=exc.changed_paths)
    else:
        diff = result.pop('diff')
        if module._diff and diff:
            result['diff'] = diff
        module.exit_json(**result)


if __name__ == '__main__':
    main()

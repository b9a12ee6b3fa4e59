#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = r'''
---
module: secret_scan
short_description: Find secrets that must not be baked into an image
version_added: 1.0.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Scans a filesystem tree on the target for private keys, cloud credentials, API tokens and password files,
    so that a bake fails before such a file is sealed into an image that every instance shares.
  - Each finding names the file, the rule that matched and the line (for rules that match content). The secret
    itself is never returned or logged.
  - 'Rules that match content: C(private_key) (PEM C(BEGIN ... PRIVATE KEY), including OpenSSH, RSA, EC, DSA,
    encrypted and PGP private keys), C(aws_access_key_id) (C(AKIA) or C(ASIA) and 16 upper-case letters or
    digits), C(aws_secret_access_key) (an C(aws_secret_access_key) assignment with a 40 character value),
    C(gcp_service_account) (JSON with C("type": "service_account") and a C(private_key)),
    C(github_token) (C(ghp_), C(gho_), C(ghs_), C(ghu_), C(ghr_) or C(github_pat_) and 20 or more characters),
    C(slack_token) (C(xoxa-), C(xoxb-), C(xoxp-), C(xoxr-) or C(xoxs-) tokens), C(bearer_token)
    (C(Authorization: Bearer) with a token of 20 or more characters) and C(netrc_password) (a C(password)
    entry in a C(.netrc) or C(_netrc) file).'
  - 'Rules that match the file name, whatever its content: C(ssh_private_key_file) (C(id_rsa), C(id_dsa),
    C(id_ecdsa), C(id_ecdsa_sk), C(id_ed25519), C(id_ed25519_sk); not the C(.pub) files),
    C(aws_credentials_file) (C(.aws/credentials)) and C(ansible_vault_password_file) (a name matching
    C(*vault*pass*) in any case, such as C(.vault_pass), C(vault_pass.txt) or C(.vault-password-file), unless
    the file is vault-encrypted, that is starts with C($ANSIBLE_VAULT;)).'
  - Content rules read text files only. Files with a NUL byte in their first 8 KiB (binary) and files bigger
    than O(max_file_size) are skipped and counted in RV(skipped_files); rules that match the name still apply
    to them. Symbolic links are never followed; sockets, devices and FIFOs are ignored.
  - The module never changes anything.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  paths:
    description:
      - Absolute paths of the directories (or files) to scan.
      - A path that does not exist is an error.
    type: list
    elements: path
    default: ['/']
  exclude_paths:
    description:
      - Paths that are not scanned, as C(fnmatch) patterns matched against absolute paths (C(*) also matches
        C(/)). An excluded directory is not entered.
      - 'The default leaves out pseudo filesystems and trees written only by the package manager:
        C(/proc), C(/sys), C(/dev), C(/run), C(/var/lib/dpkg), C(/var/lib/apt/lists), C(/var/cache/apt),
        C(/usr/share/doc), C(/usr/share/man), C(/usr/share/locale), C(/usr/share/zoneinfo) and
        C(/usr/lib/python3*). C(/etc), C(/root), C(/home), C(/tmp), C(/var), C(/opt), C(/srv) and
        C(/usr/local) are scanned.'
      - Setting this option replaces the default list; add the defaults again to keep them.
    type: list
    elements: str
    default:
      - /proc
      - /sys
      - /dev
      - /run
      - /var/lib/dpkg
      - /var/lib/apt/lists
      - /var/cache/apt
      - /usr/share/doc
      - /usr/share/man
      - /usr/share/locale
      - /usr/share/zoneinfo
      - /usr/lib/python3*
  allowlist:
    description:
      - C(fnmatch) patterns of paths whose findings are ignored (known false positives), for example
        C(/etc/ssl/private/ssl-cert-snakeoil.key). C(*) also matches C(/).
      - The files are still scanned; RV(allowlisted_findings) counts the findings ignored.
      - The C(image_seal) role sets it from its variable C(image_seal_secret_allowlist).
    type: list
    elements: str
    default: []
  max_file_size:
    description:
      - Files bigger than this many bytes are not read; they are counted in RV(skipped_files).
    type: int
    default: 1048576
  fail_on_findings:
    description:
      - Fail when there is at least one finding that is not allowlisted. The failure message lists each path
        and rule and says how to allowlist a false positive.
      - When V(false), the findings are only returned.
    type: bool
    default: true
notes:
  - Run it as root at the end of a bake so that every file is readable; files that cannot be read are counted
    in RV(skipped_files).
'''

EXAMPLES = r'''
- name: Fail the bake if a secret is left in the image
  immutable.infra.secret_scan:
    allowlist:
      - /etc/ssl/private/ssl-cert-snakeoil.key

- name: Report secrets under /srv and /opt without failing
  immutable.infra.secret_scan:
    paths:
      - /srv
      - /opt
    fail_on_findings: false
  register: secrets

- name: Scan everything, including the package documentation, with bigger files
  immutable.infra.secret_scan:
    exclude_paths:
      - /proc
      - /sys
      - /dev
      - /run
    max_file_size: 10485760
'''

RETURN = r'''
findings:
  description:
    - The findings that are not allowlisted, sorted by path and line. The secret itself is never included.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path of the file.
      returned: always
      type: str
      sample: /root/.ssh/id_ed25519
    rule:
      description: Name of the rule that matched.
      returned: always
      type: str
      sample: private_key
    line:
      description: 1-based line number for a rule that matched content, V(null) for a rule that matched the name.
      returned: always
      type: int
      sample: 1
  sample:
    - path: /root/.ssh/id_ed25519
      rule: private_key
      line: 1
    - path: /root/.ssh/id_ed25519
      rule: ssh_private_key_file
      line: null
scanned_files:
  description: Number of files whose content was scanned.
  returned: always
  type: int
  sample: 18734
skipped_files:
  description: Number of regular files whose content was not scanned (binary, bigger than O(max_file_size), unreadable).
  returned: always
  type: int
  sample: 6120
allowlisted_findings:
  description: Number of findings ignored because their path matches O(allowlist).
  returned: always
  type: int
  sample: 1
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.secret_scan import (
    DEFAULT_EXCLUDE_PATHS,
    DEFAULT_MAX_FILE_SIZE,
    DEFAULT_PATHS,
    SecretScanError,
    findings_message,
    scan,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type='list', elements='path', default=list(DEFAULT_PATHS)),
            exclude_paths=dict(type='list', elements='str', default=list(DEFAULT_EXCLUDE_PATHS)),
            allowlist=dict(type='list', elements='str', default=[]),
            max_file_size=dict(type='int', default=DEFAULT_MAX_FILE_SIZE),
            fail_on_findings=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = scan(
            paths=module.params['paths'],
            exclude_paths=module.params['exclude_paths'],
            allowlist=module.params['allowlist'],
            max_file_size=module.params['max_file_size'],
        )
    except SecretScanError as exc:
        module.fail_json(msg=str(exc))
    else:
        if result['findings'] and module.params['fail_on_findings']:
            module.fail_json(msg=findings_message(result['findings']), **result)
        module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()

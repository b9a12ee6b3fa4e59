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
version_added: 0.1.0
author: immutable.infra contributors (@immutable-infra)
description:
  - Scans a filesystem tree on the target for private keys, cloud credentials, API tokens and password files,
    so that a bake fails before such a file is sealed into an image that every instance shares.
  - Each finding names the file, the rule that matched and the line (for rules that match content). The secret
    itself is never returned or logged.
  - 'Rules that match content: C(private_key) (PEM C(BEGIN ... PRIVATE KEY), including OpenSSH, RSA, EC, DSA,
    encrypted and PGP private keys), C(putty_private_key) (the C(PuTTY-User-Key-File-) header of a PuTTY key,
    followed by its format version and a colon), C(aws_access_key_id) (C(AKIA) or C(ASIA) and 16 upper-case
    letters or digits),
    C(aws_secret_access_key) (an C(aws_secret_access_key), C(aws_secret_key), C(secret_access_key) or
    C(secret_key) assignment, in any case, with a 40 character value of letters, digits, C(/) and C(+)),
    C(gcp_service_account) (JSON with C("type": "service_account") and a C(private_key)),
    C(github_token) (C(ghp_), C(gho_), C(ghs_), C(ghu_), C(ghr_) or C(github_pat_) and 20 or more characters),
    C(slack_token) (C(xoxa-), C(xoxb-), C(xoxp-), C(xoxr-) or C(xoxs-) tokens with a part of 20 or more
    letters and digits, as every issued token has), C(bearer_token) (C(Authorization: Bearer) with a token of 20
    or more characters) and C(netrc_password) (a C(password) entry in a C(.netrc) or C(_netrc) file).'
  - 'Rules that match the file name, whatever its content: C(ssh_private_key_file) (C(id_rsa), C(id_dsa),
    C(id_ecdsa), C(id_ecdsa_sk), C(id_ed25519), C(id_ed25519_sk); not the C(.pub) files),
    C(putty_private_key_file) (a name ending in C(.ppk), in any case), C(aws_credentials_file)
    (C(.aws/credentials)) and C(ansible_vault_password_file) (a name matching C(*vault*pass*) in any case, such
    as C(.vault_pass), C(vault_pass.txt) or C(.vault-password-file), unless the file is vault-encrypted, that is
    starts with C($ANSIBLE_VAULT;)).'
  - Every byte of every regular file is read, binary or not (a NUL byte does not hide what follows it). The
    content is also decoded where it occurs and searched again, up to O(max_depth) layers inside one another and
    O(max_decoded_size) decoded bytes per file - NUL-interleaved ASCII, that is UTF-16 text in either byte order
    with or without a byte order mark; gzip streams, anywhere in a file; and base64 blobs of 28 or more
    characters that hold a capital letter (as the base64 of any of these secrets does), also when wrapped over
    lines or glued to other base64 characters. A finding inside such content has RV(findings[].inside).
  - A file the scan could not read fully - bigger than O(max_file_size), unreadable, or a decoding limit
    reached - is a finding of the rule C(incomplete_scan), with a RV(findings[].reason) naming the limit, so
    that it fails like a secret unless allowlisted. Nothing is skipped silently.
  - 'Not read: the paths in O(exclude_paths) (none by default) and mount points whose content is not part of an
    image, each listed in RV(skipped_mounts): pseudo and memory filesystems (C(proc), C(sysfs), C(devtmpfs),
    C(tmpfs), C(devpts), C(mqueue), C(cgroup) and the like, so C(/proc), C(/sys) and C(/dev) in a container),
    and in a container (the root is an overlay, or C(/.dockerenv) or C(/run/.containerenv) exists) every other
    mount point too - C(/etc/hosts), C(/etc/resolv.conf), volumes, Packer''s C(/packer-files), a bake''s apt
    cache - since the engine commits only the container''s own layer into the image. Everything else is scanned,
    C(/run), C(/usr/share/doc), C(/usr/lib/python3*) and C(/var/lib/dpkg) included.'
  - Public test keys that Debian compiles into libraries (the FIPS self-test keys of GnuTLS) are recognised by
    the sha256 of their base64 body and counted in RV(known_test_keys), not reported.
  - Symbolic links are never followed; sockets, devices and FIFOs are ignored. A file with several hard links
    is read once.
  - The work is shared out over one process per CPU (at most four); each search is a few passes in C over the
    bytes, and a regular expression only confirms a candidate.
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
      - Whatever a bake writes there is never seen. Known false positives belong in O(allowlist), which still
        scans the files; mount points whose content is not part of the image are skipped without this option.
    type: list
    elements: str
    default: []
  allowlist:
    description:
      - C(fnmatch) patterns of paths whose findings are ignored (known false positives, or files that cannot be
        read fully and are known to be harmless), for example C(/etc/ssl/private/ssl-cert-snakeoil.key).
        C(*) also matches C(/).
      - The files are still scanned; RV(allowlisted_findings) counts the findings ignored.
      - The C(image_seal) role sets it from its variable C(image_seal_secret_allowlist).
    type: list
    elements: str
    default: []
  max_file_size:
    description:
      - The size bound of the scan, in bytes. A bigger file is not read; it is an C(incomplete_scan) finding that
        names its size and this bound (it fails the scan unless allowlisted).
      - The default, 64 MiB, is above every file of a Debian image with its usual packages; each file is read
        into memory whole.
    type: int
    default: 67108864
  max_decoded_size:
    version_added: 0.2.0
    description:
      - Bytes that decoding gzip streams and base64 blobs may produce per file. A file that needs more is an
        C(incomplete_scan) finding.
    type: int
    default: 67108864
  max_depth:
    version_added: 0.2.0
    description:
      - Encoded layers inside one another (UTF-16, gzip, base64) that are decoded. Encoded content deeper than
        that is an C(incomplete_scan) finding.
    type: int
    default: 4
  fail_on_findings:
    description:
      - Fail when there is at least one finding that is not allowlisted. The failure message lists each path
        and rule (and why a file could not be read fully) and says how to allowlist a false positive.
      - When V(false), the findings are only returned.
    type: bool
    default: true
notes:
  - Run it as root at the end of a bake so that every file is readable; a file that cannot be read is an
    C(incomplete_scan) finding.
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

- name: Scan an image that ships a 200 MiB database file
  immutable.infra.secret_scan:
    max_file_size: 268435456
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
      description: Name of the rule that matched, or C(incomplete_scan) for a file that could not be read fully.
      returned: always
      type: str
      sample: private_key
    line:
      description:
        - 1-based line number for a rule that matched content, V(null) for a rule that matched the name and for
          C(incomplete_scan).
        - For a secret inside encoded content, the line within the innermost decoded layer.
      returned: always
      type: int
      sample: 1
    inside:
      version_added: 0.2.0
      description:
        - The encoded layers the secret was found in, from the outside in, each with its offset in the layer
          around it.
      returned: when the secret was found inside decoded content
      type: str
      sample: gzip stream at byte 57 > base64 blob at byte 12
    reason:
      version_added: 0.2.0
      description: Why the file could not be read fully (which limit, with its value).
      returned: for C(incomplete_scan) findings
      type: str
      sample: 70254592 bytes, bigger than max_file_size (67108864 bytes)
  sample:
    - path: /root/.ssh/id_ed25519
      rule: private_key
      line: 1
    - path: /root/.ssh/id_ed25519
      rule: ssh_private_key_file
      line: null
scanned_files:
  description: Number of regular files read fully.
  returned: always
  type: int
  sample: 9312
skipped_files:
  description: Number of regular files that could not be read fully (each one is an C(incomplete_scan) finding).
  returned: always
  type: int
  sample: 0
scanned_bytes:
  version_added: 0.2.0
  description: Bytes read (each file with several hard links once).
  returned: always
  type: int
  sample: 224415520
skipped_mounts:
  version_added: 0.2.0
  description: Mount points that were not entered because their content is not part of the image.
  returned: always
  type: list
  elements: str
  sample: [/dev, /etc/hostname, /etc/hosts, /etc/resolv.conf, /packer-files, /proc, /sys]
limits:
  version_added: 0.2.0
  description: The bounds the scan ran with.
  returned: always
  type: dict
  sample: {max_file_size: 67108864, max_decoded_size: 67108864, max_depth: 4}
allowlisted_findings:
  description: Number of findings ignored because their path matches O(allowlist).
  returned: always
  type: int
  sample: 1
known_test_keys:
  version_added: 0.2.0
  description: Number of known public test keys found (and not reported), such as those of GnuTLS.
  returned: always
  type: int
  sample: 10
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.immutable.infra.plugins.module_utils.secret_scan import (
    DEFAULT_EXCLUDE_PATHS,
    DEFAULT_MAX_DECODED_SIZE,
    DEFAULT_MAX_DEPTH,
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
            max_decoded_size=dict(type='int', default=DEFAULT_MAX_DECODED_SIZE),
            max_depth=dict(type='int', default=DEFAULT_MAX_DEPTH),
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
            max_decoded_size=module.params['max_decoded_size'],
            max_depth=module.params['max_depth'],
        )
    except SecretScanError as exc:
        module.fail_json(msg=str(exc))
    else:
        if result['findings'] and module.params['fail_on_findings']:
            module.fail_json(msg=findings_message(result['findings']), **result)
        module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()

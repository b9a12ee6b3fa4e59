# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find secrets that must never be baked into an image. Runs on the target: standard library only.

A finding is ``{'path': ..., 'rule': ..., 'line': ...}``: ``line`` is 1-based for a rule that matched content and
``None`` for a rule that matched the file's name. The secret itself is never returned.

Rules matched by file name apply to every regular file, whatever its size or content; rules matched by content
apply to text files (no NUL byte in the first 8 KiB) no bigger than ``max_file_size``. Other files are counted
as skipped. Symbolic links are never followed, sockets, devices and FIFOs are ignored.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import bisect
import fnmatch
import os
import re
import stat


DEFAULT_PATHS = ['/']

# Pseudo filesystems and trees that only the package manager writes (big, and full of sample keys in docs and
# test suites). /etc, /root, /home, /tmp, /var, /opt, /srv and /usr/local are always scanned.
DEFAULT_EXCLUDE_PATHS = [
    '/proc',
    '/sys',
    '/dev',
    '/run',
    '/var/lib/dpkg',
    '/var/lib/apt/lists',
    '/var/cache/apt',
    '/usr/share/doc',
    '/usr/share/man',
    '/usr/share/locale',
    '/usr/share/zoneinfo',
    '/usr/lib/python3*',
]

DEFAULT_MAX_FILE_SIZE = 1048576

ALLOWLIST_VARIABLE = 'image_seal_secret_allowlist'

BINARY_PROBE_SIZE = 8192

RULES = (
    'private_key',
    'aws_access_key_id',
    'aws_secret_access_key',
    'aws_credentials_file',
    'gcp_service_account',
    'ansible_vault_password_file',
    'github_token',
    'slack_token',
    'bearer_token',
    'netrc_password',
    'ssh_private_key_file',
)

# Content rules: (rule, literals, regex). A text is searched with the regex only when it contains one of the
# literals (lower-cased for the case-insensitive rules): a substring test is much faster than a regex.
# [ \t] rather than \s, so that no match spans two lines. The patterns do not match this file itself.
_CONTENT_RULES = (
    ('private_key', ('PRIVATE KEY',),
     re.compile(r'-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----')),
    ('aws_access_key_id', ('AKIA', 'ASIA'),
     re.compile(r'(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])')),
    ('aws_secret_access_key', ('aws_secret_access_key',),
     re.compile(r'aws_secret_access_key["\']?[ \t]*[:=][ \t]*["\']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])',
                re.IGNORECASE)),
    ('github_token', ('ghp_', 'gho_', 'ghs_', 'ghu_', 'ghr_', 'github_pat_'),
     re.compile(r'(?<![A-Za-z0-9_])(?:(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})')),
    ('slack_token', ('xoxa-', 'xoxb-', 'xoxp-', 'xoxr-', 'xoxs-'),
     re.compile(r'(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9]+-[A-Za-z0-9-]{8,}')),
    ('bearer_token', ('bearer',),
     re.compile(r'Authorization["\']?[ \t]*[:=][ \t]*["\']?Bearer[ \t]+[A-Za-z0-9._~+/=-]{20,}', re.IGNORECASE)),
)

_GCP_TYPE = re.compile(r'"type"[ \t]*:[ \t]*"service_account"')
_GCP_PRIVATE_KEY = re.compile(r'"private_key"[ \t]*:')

_NETRC_NAMES = frozenset(['.netrc', '_netrc'])
_NETRC_PASSWORD = re.compile(r'(?:^|[ \t])password[ \t]+\S', re.MULTILINE)

_SSH_KEY_NAMES = frozenset(['id_rsa', 'id_dsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk'])

# Matches .vault_pass, vault_pass.txt, .vault-password-file, my-vault.pass, ... (case-insensitive).
_VAULT_PASSWORD_NAME = '*vault*pass*'
_VAULT_HEADER = b'$ANSIBLE_VAULT;'


class SecretScanError(Exception):
    """A scan could not run (bad arguments). Findings are results, not errors."""


class ScanResult:
    """What a scan found: findings (kept), findings ignored by the allowlist, and file counts."""

    def __init__(self):
        self.findings = []
        self.allowlisted_findings = 0
        self.scanned_files = 0
        self.skipped_files = 0

    def as_dict(self):
        return {
            'findings': sorted(self.findings, key=_finding_sort_key),
            'allowlisted_findings': self.allowlisted_findings,
            'scanned_files': self.scanned_files,
            'skipped_files': self.skipped_files,
        }


def _finding_sort_key(finding):
    return (finding['path'], finding['line'] or 0, finding['rule'])


def _normalize_patterns(patterns, option):
    normalized = []
    for pattern in patterns or []:
        if not isinstance(pattern, str) or not pattern:
            raise SecretScanError('%s: every entry must be a non-empty string, got %r' % (option, pattern))
        normalized.append(pattern if pattern == '/' else pattern.rstrip('/'))
    return normalized


def _ancestors_and_self(path):
    current = path
    while True:
        yield current
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def is_excluded(path, exclude_paths):
    """True when ``path`` or one of its parent directories matches an exclude pattern (fnmatch)."""
    for candidate in _ancestors_and_self(path):
        for pattern in exclude_paths:
            if fnmatch.fnmatchcase(candidate, pattern):
                return True
    return False


def is_allowlisted(path, allowlist):
    """True when ``path`` matches one of the allowlist's fnmatch patterns."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in allowlist)


def _line_numbers(text, offsets):
    """1-based line number of each offset in ``text``."""
    newlines = [match.start() for match in re.finditer('\n', text)]
    return [bisect.bisect_left(newlines, offset) + 1 for offset in offsets]


def scan_text(text, basename=''):
    """Content findings in ``text`` as sorted ``(line, rule)`` pairs, one per rule and line.

    ``basename`` is the file's name: some rules only apply to some files (``.netrc``).
    """
    hits = []
    lowered = None
    for rule, literals, regex in _CONTENT_RULES:
        if regex.flags & re.IGNORECASE:
            if lowered is None:
                lowered = text.lower()
            haystack = lowered
        else:
            haystack = text
        if any(literal in haystack for literal in literals):
            hits.extend((rule, match.start()) for match in regex.finditer(text))
    if basename in _NETRC_NAMES:
        hits.extend(('netrc_password', match.start()) for match in _NETRC_PASSWORD.finditer(text))
    service_account = _GCP_TYPE.search(text)
    if service_account and _GCP_PRIVATE_KEY.search(text):
        hits.append(('gcp_service_account', service_account.start()))
    if not hits:
        return []
    lines = _line_numbers(text, [offset for dummy, offset in hits])
    return sorted(set((line, rule) for (rule, dummy), line in zip(hits, lines)))


def _name_rules(path):
    basename = os.path.basename(path)
    rules = []
    if basename in _SSH_KEY_NAMES:
        rules.append('ssh_private_key_file')
    if basename == 'credentials' and os.path.basename(os.path.dirname(path)) == '.aws':
        rules.append('aws_credentials_file')
    return rules


def _open_regular(path):
    """Open ``path`` for reading without following a symbolic link or blocking on a FIFO.

    Returns ``(file object, size)``, or ``None`` when ``path`` is not a regular file (any more).
    """
    flags = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return os.fdopen(fd, 'rb'), info.st_size
    except Exception:
        os.close(fd)
        raise


def scan_file(path, max_file_size=DEFAULT_MAX_FILE_SIZE):
    """Findings of one file as ``(hits, scanned)``; ``hits`` is a list of ``(line, rule)``, line None for names.

    ``scanned`` is False when the content was not read (too big, binary, unreadable): rules matched by name are
    still reported. Returns ``None`` when ``path`` is not a regular file (symbolic link, socket, device, ...).
    """
    basename = os.path.basename(path)
    hits = [(None, rule) for rule in _name_rules(path)]
    head = body = None
    try:
        opened = _open_regular(path)
        if opened is None:
            return None
        handle, size = opened
        with handle:
            head = handle.read(BINARY_PROBE_SIZE)
            if b'\0' not in head and size <= max_file_size:
                body = head + handle.read(max_file_size + 1 - len(head))
    except (IOError, OSError):
        if not os.path.isfile(path) or os.path.islink(path):
            return None
    if fnmatch.fnmatchcase(basename.lower(), _VAULT_PASSWORD_NAME):
        # A vault-encrypted file named like a password file is fine; anything else there is a password.
        if head is None or not head.lstrip().startswith(_VAULT_HEADER):
            hits.append((None, 'ansible_vault_password_file'))
    if body is None or len(body) > max_file_size:
        return hits, False
    hits.extend(scan_text(body.decode('utf-8', 'replace'), basename))
    return hits, True


def _walk_files(root, exclude_paths):
    """Regular files under directory ``root``, depth first, not following symbolic links, pruning excludes."""
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if any(fnmatch.fnmatchcase(entry.path, pattern) for pattern in exclude_paths):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
            except OSError:
                continue


def scan(paths=None, exclude_paths=None, allowlist=None, max_file_size=DEFAULT_MAX_FILE_SIZE):
    """Scan ``paths`` (directories or files, absolute) and return a dict.

    The dict has ``findings`` (sorted list of ``{'path', 'rule', 'line'}``), ``allowlisted_findings``,
    ``scanned_files`` and ``skipped_files``. ``exclude_paths`` and ``allowlist`` are fnmatch patterns matched
    against absolute paths (``*`` also matches ``/``); an excluded directory is not entered at all.
    """
    paths = DEFAULT_PATHS if paths is None else paths
    exclude_paths = _normalize_patterns(DEFAULT_EXCLUDE_PATHS if exclude_paths is None else exclude_paths,
                                        'exclude_paths')
    allowlist = _normalize_patterns(allowlist, 'allowlist')
    if not paths:
        raise SecretScanError('paths: give at least one directory to scan')
    if isinstance(max_file_size, bool) or not isinstance(max_file_size, int) or max_file_size < 0:
        raise SecretScanError('max_file_size: expected a number of bytes >= 0, got %r' % (max_file_size,))
    roots = []
    for path in paths:
        if not isinstance(path, str) or not os.path.isabs(path):
            raise SecretScanError('paths: %r is not an absolute path' % (path,))
        if not os.path.lexists(path):
            raise SecretScanError('paths: %s does not exist' % path)
        roots.append(os.path.normpath(path))

    result = ScanResult()
    seen = set()
    for root in roots:
        if is_excluded(root, exclude_paths):
            continue
        if os.path.isdir(root) and not os.path.islink(root):
            candidates = _walk_files(root, exclude_paths)
        else:
            candidates = [root]
        for path in candidates:
            if path in seen:
                continue
            seen.add(path)
            outcome = scan_file(path, max_file_size)
            if outcome is None:
                continue
            hits, scanned = outcome
            if scanned:
                result.scanned_files += 1
            else:
                result.skipped_files += 1
            if hits and is_allowlisted(path, allowlist):
                result.allowlisted_findings += len(hits)
                continue
            result.findings.extend({'path': path, 'rule': rule, 'line': line} for line, rule in hits)
    return result.as_dict()


def findings_message(findings):
    """The failure message for ``findings``: each path and rule, and how to allowlist a false positive."""
    lines = ['secret_scan found %d secret(s) that must not be baked into the image:' % len(findings)]
    for finding in findings:
        where = finding['path'] if finding['line'] is None else '%s line %d' % (finding['path'], finding['line'])
        lines.append('  - %s (rule %s)' % (where, finding['rule']))
    lines.append(
        'Remove each secret from the image and provide it to instances at run time instead. If a finding is a '
        'false positive, add a glob pattern that matches its path to the image_seal role variable %s '
        '(the allowlist option of immutable.infra.secret_scan).' % ALLOWLIST_VARIABLE)
    return '\n'.join(lines)

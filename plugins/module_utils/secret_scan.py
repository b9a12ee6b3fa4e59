# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Find secrets that must never be baked into an image. Runs on the target: standard library only.

A finding is ``{'path': ..., 'rule': ..., 'line': ...}``: ``line`` is 1-based for a rule that matched content and
``None`` for a rule that matched the file's name. A secret found inside encoded content has ``inside`` too, the
layers it was found in from the outside in (``gzip stream at byte 120 > base64 blob at byte 8``); its ``line`` is
the line within the innermost one. The secret itself is never returned.

Every byte of every regular file is read, binary or not, up to ``max_file_size``. Content is searched as bytes,
and decoded where it occurs: NUL-interleaved ASCII (UTF-16, little or big endian, with or without a byte order
mark), gzip streams anywhere in a file, and base64 blobs (also wrapped over lines), nested up to ``max_depth``
layers and ``max_decoded_size`` decoded bytes per file. A file that could not be read fully (bigger than
``max_file_size``, unreadable, a decoding limit reached) is a finding of the rule ``incomplete_scan`` with a
``reason``, so that it fails the bake unless allowlisted. Public test keys that Debian compiles into libraries
(``KNOWN_TEST_KEYS``) are counted, not reported.

Not read: the paths given in ``exclude_paths`` (none by default) and mount points whose content is not part of
the image: pseudo and memory filesystems (``/proc``, ``/sys``, ``/dev``...), and inside a container every mount
below the root (``/etc/hosts``, volumes, Packer's ``/packer-files``, a bake's apt cache), which the engine never
commits into the image. Symbolic links are never followed; sockets, devices and FIFOs are ignored.

Speed: small files are joined and scanned together; each batch gets two ``bytes.translate`` and four searches
for literal bytes, all in C, and a regular expression only confirms a candidate there. The files are shared out
over one process per CPU (``workers``).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import binascii
import bisect
import fnmatch
import hashlib
import os
import pickle
import re
import stat
import zlib


DEFAULT_PATHS = ['/']

# Skipped besides the mount points below: nothing. A path left out here could hide anything a role writes there.
DEFAULT_EXCLUDE_PATHS = []

# Files bigger than this are not read; each one is an incomplete_scan finding (it fails the bake).
DEFAULT_MAX_FILE_SIZE = 64 * 1024 * 1024
# Bytes that decoding (gzip, base64) may produce per file before the scan gives up on it (incomplete_scan).
DEFAULT_MAX_DECODED_SIZE = 64 * 1024 * 1024
# Encoded layers inside one another (UTF-16, gzip, base64) the scan decodes; a deeper one is incomplete_scan.
DEFAULT_MAX_DEPTH = 4

ALLOWLIST_VARIABLE = 'image_seal_secret_allowlist'

RULES = (
    'private_key',
    'putty_private_key',
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
    'putty_private_key_file',
)

# Not a secret: a file the scan could not read fully. It fails like a secret unless allowlisted.
INCOMPLETE_RULE = 'incomplete_scan'

# Filesystems that are never part of an image (memory and kernel interfaces); their mount points are not entered.
PSEUDO_FILESYSTEMS = frozenset([
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts', 'devtmpfs', 'efivarfs',
    'fusectl', 'hugetlbfs', 'mqueue', 'nsfs', 'proc', 'pstore', 'ramfs', 'rpc_pipefs', 'securityfs', 'selinuxfs',
    'sysfs', 'tmpfs', 'tracefs',
])
# Root filesystems of a container: only the container's own layer is committed into an image, no other mount.
_CONTAINER_ROOT_FILESYSTEMS = frozenset(['overlay', 'fuse-overlayfs', 'aufs'])
_CONTAINER_MARKERS = ('/.dockerenv', '/run/.containerenv')
MOUNTINFO = '/proc/self/mountinfo'

# ---------------------------------------------------------------------------------------------------------------
# Content rules. The patterns are bytes and do not match this file itself.

_PEM = re.compile(rb'-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----')
_PUTTY = re.compile(rb'PuTTY-User-Key-File-[0-9]+:')
_AWS_KEY_ID = re.compile(rb'(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])')
# aws_secret_access_key, aws_secret_key, secret_access_key, secret_key, in any case: an assignment of 40 characters.
_AWS_SECRET = re.compile(
    rb'secret(?:_access)?_key["\']?[ \t]*(?:=>|:=|[:=])[ \t]*["\']?[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])', re.IGNORECASE)
_GITHUB = re.compile(rb'(?<![A-Za-z0-9_])(?:(?:ghp|gho|ghs|ghu|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})')
_SLACK = re.compile(rb'(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9]+-[A-Za-z0-9-]{8,}')
_BEARER = re.compile(rb'Authorization["\']?[ \t]*[:=][ \t]*["\']?Bearer[ \t]+[A-Za-z0-9._~+/=-]{20,}', re.IGNORECASE)
_GCP_TYPE = re.compile(rb'"type"[ \t]*:[ \t]*"service_account"')
_GCP_PRIVATE_KEY = re.compile(rb'"private_key"[ \t]*:')
_NETRC_PASSWORD = re.compile(rb'(?:^|[ \t])password[ \t]+\S', re.MULTILINE)

_NETRC_NAMES = frozenset(['.netrc', '_netrc'])
_SSH_KEY_NAMES = frozenset(['id_rsa', 'id_dsa', 'id_ecdsa', 'id_ecdsa_sk', 'id_ed25519', 'id_ed25519_sk'])
# Matches .vault_pass, vault_pass.txt, .vault-password-file, my-vault.pass, ... (case-insensitive).
_VAULT_PASSWORD_NAME = '*vault*pass*'
_VAULT_HEADER = b'$ANSIBLE_VAULT;'

# Public test keys compiled into libraries of Debian packages, recognised by the sha256 of their base64 body
# (whitespace removed): they are counted in known_test_keys instead of failing every bake.
KNOWN_TEST_KEYS = frozenset([
    # GnuTLS 3.7 (libgnutls30, Debian 12): the keys of its FIPS 140 self-tests (lib/fips.c, lib/crypto-selftests-pk.c).
    'bf552d2ff30b20f0b0ee2bcc357a5ab68dbe899ae09a0071b097bee2d2434332',
    'cadf1e62661d5d21a7fce2c80b3319022ee366137e4b302a7ea78b7f17d6f599',
    '6d03bbf47115fad00d6f990593a6465ca693d0f6d797721cfc94b0190349b50d',
    '30db3ea6d728b88c03c56388f64efb5bfe5e8d0ed3640482108ac79645304e6f',
    '518a21fe5a8a54f8f31d8913c3aa5be433ba94871630b3f85009c146bd3b844e',
    'c780c483da21d36753a9662fc03234d3fda795fe0bad451fbfa01dab43321ac5',
    '0abce0c5fd3b863ee4d881dcc5382b334393868cef4c32e687d87ce334d456b8',
    '24a2416c5abbb67327599619c25906553b849d79cbc413e2a061f12de6718838',
    '9ab6db67523ba6071fdb948b3ce38349ec08fb726f359abbbca33a3a84238ba2',
    'f287c70b1db074fe73f73bfb1f09a8b0231e0d951d5bfd30a742bcb9de9195ab',
])

# ---------------------------------------------------------------------------------------------------------------
# The prefilter: a few passes over the bytes that run in C, then a regular expression at each candidate only.
#
# 1. _PAIR_TABLE maps '-', '_', 'z', 0x1f to 1 and 'a', 'b', 'k', 0x8b to 2 (both cases) and lower-cases the other
#    letters; one search for the literal bytes 1 2 (a tight loop in C) then stops at every candidate of the rules
#    private_key ('-B' of '-----BEGIN '), putty_private_key ('-K' of '-Key-File-'), aws_secret_access_key and the
#    private_key of gcp_service_account ('_k' of '_key'), bearer_token ('za' of 'Authorization') and of gzip
#    streams (1f 8b 08); such pairs are rare in text and in machine code.
# 2. _CLASS_TABLE maps base64 characters to 'b', NUL to 'z', line breaks to 'n', blanks to 's' and anything else
#    to '.'; a search for 20 'b' finds each run of 20 or more base64 characters: AWS key IDs, GitHub and Slack
#    tokens (their long part), base64 blobs. A search for 'bz' * 5 finds NUL-interleaved (UTF-16) text: every
#    secret form has a word of five letters or digits (BEGIN, PuTTY, secret, AKIA..., the tokens).
_PAIR_TABLE = bytes(
    1 if byte in (0x2d, 0x5f, 0x7a, 0x5a, 0x1f) else 2 if byte in (0x61, 0x41, 0x62, 0x42, 0x6b, 0x4b, 0x8b)
    else byte + 32 if 0x41 <= byte <= 0x5a else byte
    for byte in range(256))
_PAIRS = re.compile(rb'\x01\x02(?:egin |ey|tion|\x08)')
_CLASS_TABLE = bytes(
    0x62 if (0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5a or 0x61 <= byte <= 0x7a or byte in (0x2b, 0x2f))
    else 0x7a if byte == 0 else 0x6e if byte in (0x0a, 0x0d) else 0x73 if byte in (0x09, 0x20) else 0x2e
    for byte in range(256))

_RUN = 20
_RUN_NEEDLE = b'b' * _RUN
# A base64 blob wrapped over lines: full lines of 40 characters or more, the last one shorter.
_BLOB = re.compile(rb'b+(?:(?<=b{40})n{1,2}s*b+)*')
_BASE64_MIN = 28
_BLANKS = b' \t\r\n'
_GITHUB_PREFIXES = frozenset([b'ghp_', b'gho_', b'ghs_', b'ghu_', b'ghr_'])
# How far before the long part of a token its prefix (xoxb-, github_pat_) may be.
_TOKEN_REACH = 80
_UTF16_NEEDLE = b'bz' * 5
_UTF16_PAIRS = re.compile(rb'(?:[^z]z)*')

_GZIP_MAGIC = b'\x1f\x8b\x08'
# Compressed bytes fed to zlib at a time (deflate inflates at most about 1000 times).
_GZIP_CHUNK = 4096
_PEM_END = b'-----END'
_PEM_REACH = 65536
# Joins files and decoded parts: it ends lines, base64 runs, UTF-16 text, and is never part of a secret.
_SEPARATOR = b'\n\x00\x00\n'
# Files smaller than this are scanned together, joined by the separator, up to _BATCH_SIZE bytes at a time.
_BATCH_FILE = 1024 * 1024
_BATCH_SIZE = 8 * 1024 * 1024
# Processes of a scan: at most this many, and only for this many files or more.
MAX_WORKERS = 4
_PARALLEL_FILES = 64
# The cost of one more file, in bytes scanned, to share the work out evenly.
_FILE_COST = 16384


class SecretScanError(Exception):
    """A scan could not run (bad arguments). Findings are results, not errors."""


def _finding_sort_key(finding):
    return (finding['path'], finding['line'] or 0, finding.get('inside', ''), finding['rule'])


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


# ---------------------------------------------------------------------------------------------------------------
# Mount points

def _unescape_mount_path(field):
    return re.sub(r'\\([0-7]{3})', lambda match: chr(int(match.group(1), 8)), field)


def read_mounts(mountinfo=None):
    """``[(mount point, filesystem type)]`` from ``/proc/self/mountinfo``; empty when it cannot be read."""
    try:
        with open(mountinfo or MOUNTINFO) as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return []
    mounts = []
    for line in lines:
        fields = line.split(' ')
        if len(fields) < 10 or '-' not in fields[6:]:
            continue
        separator = fields.index('-', 6)
        if len(fields) > separator + 1:
            mounts.append((_unescape_mount_path(fields[4]), fields[separator + 1]))
    return mounts


def unpersisted_mounts(mounts, container=None):
    """Mount points whose content is not part of the image, as ``{path: filesystem type}``.

    Pseudo and memory filesystems always; in a container (its root is an overlay, or the engine's marker file
    exists) every mount point but the root, since the engine commits only the container's own layer.
    """
    types = dict(mounts)
    if container is None:
        container = (types.get('/') in _CONTAINER_ROOT_FILESYSTEMS
                     or any(os.path.exists(marker) for marker in _CONTAINER_MARKERS))
    return {path: fstype for path, fstype in types.items()
            if path != '/' and (container or fstype in PSEUDO_FILESYSTEMS)}


# ---------------------------------------------------------------------------------------------------------------
# Content: layers of bytes joined from parts, each part belonging to one file

def _chain(outer, inner):
    return inner if not outer else '%s > %s' % (outer, inner)


class _Joined:
    """Parts joined with the separator; each part belongs to a file and says where it came from (``chain``)."""

    def __init__(self):
        self.parts = []
        self.starts = []
        self.ends = []
        self.files = []
        self.chains = []
        self.size = 0

    def add(self, content, file_index, chain):
        if not content:
            return
        if self.parts:
            self.parts.append(_SEPARATOR)
            self.size += len(_SEPARATOR)
        self.starts.append(self.size)
        self.parts.append(content)
        self.size += len(content)
        self.ends.append(self.size)
        self.files.append(file_index)
        self.chains.append(chain)

    def join(self):
        data = b''.join(self.parts)
        self.parts = []
        return data

    def locate(self, offset):
        """``(file index, start of the part, end of the part, chain)`` of the part holding ``offset``."""
        index = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        return self.files[index], self.starts[index], self.ends[index], self.chains[index]


class _Budget:
    """Per file: decoded bytes it may still produce, and why it could not be scanned fully."""

    def __init__(self, max_decoded_size, max_depth):
        self.max_decoded_size = max_decoded_size
        self.max_depth = max_depth
        self.used = {}
        self.reasons = {}
        self.known = set()

    def incomplete(self, file_index, reason):
        reasons = self.reasons.setdefault(file_index, [])
        if reason not in reasons:
            reasons.append(reason)

    def left(self, file_index):
        return self.max_decoded_size - self.used.get(file_index, 0)

    def take(self, file_index, size, what):
        """Account for ``size`` decoded bytes of a file; False (reason recorded) when they exceed its limit."""
        if size > self.left(file_index):
            self.incomplete(file_index, '%s decode to more than max_decoded_size (%d bytes)'
                            % (what, self.max_decoded_size))
            self.used[file_index] = self.max_decoded_size
            return False
        self.used[file_index] = self.used.get(file_index, 0) + size
        return True


def _line_of(data, offset, start):
    return data.count(b'\n', start, offset) + 1


def _pem_finding(data, offset):
    """'private_key' for a PEM private key at ``offset``, 'known' for a known public test key."""
    match = _PEM.match(data, offset)
    if not match:
        return None
    end = data.find(_PEM_END, match.end(), match.end() + _PEM_REACH)
    if end > 0:
        body = data[match.end():end].translate(None, _BLANKS)
        if hashlib.sha256(body).hexdigest() in KNOWN_TEST_KEYS:
            return 'known'
    return 'private_key'


def _pair_candidates(data, found, gzip_starts):
    """Confirm the candidates of the pair search; returns True when a gcp_service_account check is needed."""
    gcp = False
    for match in _PAIRS.finditer(data.translate(_PAIR_TABLE)):
        anchor = match.start()
        kind = match.group()[2:]
        if kind == b'egin ':
            rule = _pem_finding(data, anchor - 4) if anchor >= 4 else None
            if rule:
                found.append((anchor - 4, rule))
        elif kind == b'ey':
            if data.startswith(b'PuTTY-User', anchor - 10) and _PUTTY.match(data, anchor - 10):
                found.append((anchor - 10, 'putty_private_key'))
            for back in (6, 13):
                if anchor >= back and _AWS_SECRET.match(data, anchor - back):
                    found.append((anchor - back, 'aws_secret_access_key'))
            gcp = gcp or data.startswith(b'"private', anchor - 8)
        elif kind == b'tion':
            if anchor >= 7 and _BEARER.match(data, anchor - 7):
                found.append((anchor - 7, 'bearer_token'))
        elif data.startswith(_GZIP_MAGIC, anchor):
            gzip_starts.append(anchor)
    return gcp


def _run_candidates(data, classes, found, blobs):
    """Confirm what runs of 20 or more base64 characters hold, and collect the blobs to decode."""
    position = classes.find(_RUN_NEEDLE)
    while position >= 0:
        end = _BLOB.match(classes, position).end()
        before = data[position - 1] if position else 0
        if before == 0x5f:  # '_': the long part of a GitHub token (ghp_..., github_pat_..._...)
            if data[position - 4:position] in _GITHUB_PREFIXES and _GITHUB.match(data, position - 4):
                found.append((position - 4, 'github_token'))
            start = data.rfind(b'github_pat_', max(position - _TOKEN_REACH, 0), position)
            if start >= 0 and _GITHUB.match(data, start):
                found.append((start, 'github_token'))
        elif before == 0x2d:  # '-': the long part of a Slack token (xoxb-...-...-...)
            start = data.rfind(b'xox', max(position - _TOKEN_REACH, 0), position)
            if start >= 0 and _SLACK.match(data, start):
                found.append((start, 'slack_token'))
        run = data[position:end]
        if not run.islower():
            # Base64 of anything that holds a secret has a capital letter: every form has three bytes in a row
            # below 'h', and one of any three bytes starts a base64 group, whose first character is then A-Z.
            if b'AKIA' in run or b'ASIA' in run:
                found.extend((match.start(), 'aws_access_key_id')
                             for match in _AWS_KEY_ID.finditer(data, position, end))
            if end - position >= _BASE64_MIN:
                blobs.append((position, end, classes.find(b'n', position, end) >= 0))
        position = classes.find(_RUN_NEEDLE, end)


def _utf16_stretches(classes):
    """``(start, end)`` of each stretch of (non-NUL, NUL) byte pairs that holds 5 base64 characters in a row."""
    stretches = []
    previous_end = 0
    position = classes.find(_UTF16_NEEDLE)
    while position >= 0:
        end = _UTF16_PAIRS.match(classes, position).end()
        start = position
        # The pairs before the first 5 base64 characters (blanks, punctuation) belong to the stretch too.
        while start - 2 >= previous_end and classes[start - 1] == 0x7a and classes[start - 2] != 0x7a:
            start -= 2
        stretches.append((start, end))
        previous_end = end
        position = classes.find(_UTF16_NEEDLE, end)
    return stretches


def _gzip_body(data, start, limit):
    """Offset of the deflate data of the gzip member whose header is at ``start``, or None when it is no header."""
    flags = data[start + 3] if start + 10 < limit else 0xff
    if flags & 0xe0:
        return None
    position = start + 10
    if flags & 4:  # FEXTRA
        if position + 2 > limit:
            return None
        position += 2 + (data[position] | data[position + 1] << 8)
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            end = data.find(b'\x00', position, limit)
            if end < 0:
                return None
            position = end + 1
    if flags & 2:  # FHCRC
        position += 2
    return position if position < limit else None


def _feed(decompressor, chunk):
    """``(decompressor, output, failed)``: ``chunk`` inflated; on bad data, what inflates before the bad byte.

    zlib raises on bad data and drops the output of that call, so a failing chunk is fed again in pieces from a
    copy of the decompressor taken before it.
    """
    saved = decompressor.copy()
    try:
        return decompressor, decompressor.decompress(chunk), False
    except zlib.error:
        if len(chunk) == 1:
            return saved, b'', True
    decompressor = saved
    outputs = []
    step = max(1, len(chunk) // 16)
    for offset in range(0, len(chunk), step):
        decompressor, output, failed = _feed(decompressor, chunk[offset:offset + step])
        outputs.append(output)
        if failed:
            break
    return decompressor, b''.join(outputs), True


def _inflate(data, start, limit, budget, file_index, where):
    """The gzip member at ``start`` (within ``limit``) decompressed as far as it inflates, and where it ends.

    The deflate data is read raw, without the checksum of the trailer: a stream cut short or with a wrong
    checksum still shows what it holds, as zcat does.
    """
    body = _gzip_body(data, start, limit)
    if body is None:
        return b'', start + 1
    view = memoryview(data)
    allowed = budget.left(file_index)
    decompressor = zlib.decompressobj(-15)
    try:
        # Most streams are whole and sound: one call. Bad data makes zlib raise and drop its output: then again
        # in pieces, below.
        content = decompressor.decompress(view[body:limit], allowed + 1)
    except zlib.error:
        pass
    else:
        budget.take(file_index, len(content), 'the %s and the other encoded parts of the file' % where)
        end = limit - len(decompressor.unused_data) - len(decompressor.unconsumed_tail)
        return content, max(end + (8 if decompressor.eof else 0), start + 1)
    decompressor = zlib.decompressobj(-15)
    parts = []
    produced = 0
    position = body
    failed = False
    while position < limit and not decompressor.eof and not failed and produced <= allowed:
        chunk = view[position:min(position + _GZIP_CHUNK, limit)]
        position += len(chunk)
        decompressor, output, failed = _feed(decompressor, chunk)
        parts.append(output)
        produced += len(output)
    budget.take(file_index, produced, 'the %s and the other encoded parts of the file' % where)
    end = position - len(decompressor.unused_data) + (8 if decompressor.eof else 0)
    return b''.join(parts), max(end, start + 1)


def _inflates(data, start, limit):
    body = _gzip_body(data, start, limit)
    return body is not None and bool(_feed(zlib.decompressobj(-15), data[body:body + 64])[1])


def _decode_base64(blob, wrapped):
    """The blob decoded from each of its four alignments (it may be glued to other base64 characters), joined."""
    compact = blob.translate(None, _BLANKS) if wrapped else blob
    decoded = []
    for offset in range(4):
        part = compact[offset:]
        part = part[:len(part) - len(part) % 4]
        if part:
            decoded.append(binascii.a2b_base64(part))
    return _SEPARATOR.join(decoded)


def _scan_layer(data, layer, budget, depth, hits):
    """Add ``(file index, line, rule, inside)`` of ``data`` and of what it encodes to ``hits``."""
    found = []
    gzip_starts = []
    if _pair_candidates(data, found, gzip_starts):
        service_account = _GCP_TYPE.search(data)
        if service_account and _GCP_PRIVATE_KEY.search(data):
            found.append((service_account.start(), 'gcp_service_account'))
    classes = data.translate(_CLASS_TABLE)
    blobs = []
    _run_candidates(data, classes, found, blobs)
    stretches = _utf16_stretches(classes) if _UTF16_NEEDLE in classes else []
    del classes
    for offset, rule in found:
        file_index, start, dummy, inside = layer.locate(offset)
        if rule == 'known':
            budget.known.add((file_index, inside, offset))
        else:
            hits.add((file_index, _line_of(data, offset, start), rule, inside))
    if not (stretches or gzip_starts or blobs):
        return
    if depth >= budget.max_depth:
        inflating = [(start, start) for start in gzip_starts if _inflates(data, start, layer.locate(start)[2])]
        deeper = stretches + [blob[:2] for blob in blobs] + inflating
        for offset, dummy in deeper:
            file_index, dummy, dummy, inside = layer.locate(offset)
            budget.incomplete(file_index, 'encoded content nested more than max_depth (%d) layers deep, in the %s'
                              % (budget.max_depth, inside))
        return

    children = (_Joined(), _Joined(), _Joined())
    text, inflated, decoded = children
    for start, end in stretches:
        file_index, part_start, dummy, inside = layer.locate(start)
        text.add(data[start:end:2], file_index, _chain(inside, 'UTF-16 text at byte %d' % (start - part_start)))
    consumed = 0
    for start in gzip_starts:
        file_index, part_start, part_end, inside = layer.locate(start)
        if start >= consumed and budget.left(file_index) > 0:
            where = _chain(inside, 'gzip stream at byte %d' % (start - part_start))
            content, consumed = _inflate(data, start, part_end, budget, file_index, where)
            inflated.add(content, file_index, where)
    for start, end, wrapped in blobs:
        file_index, part_start, dummy, inside = layer.locate(start)
        where = _chain(inside, 'base64 blob at byte %d' % (start - part_start))
        content = _decode_base64(data[start:end], wrapped)
        if budget.left(file_index) > 0 and budget.take(file_index, len(content), 'the ' + where + ' and the other '
                                                       'encoded parts of the file'):
            decoded.add(content, file_index, where)
    del data
    for child in children:
        if child.parts:
            _scan_layer(child.join(), child, budget, depth + 1, hits)


def _scan_contents(contents, max_decoded_size, max_depth):
    """Content findings of several files scanned together.

    Returns ``(hits, reasons, known)``: per file index a sorted list of ``(line, rule, inside)``, the reasons it
    was not scanned fully, and the number of known test keys it holds.
    """
    top = _Joined()
    for file_index, content in enumerate(contents):
        top.add(content, file_index, '')
    budget = _Budget(max_decoded_size, max_depth)
    found = set()
    if top.parts:
        _scan_layer(top.join(), top, budget, 0, found)
    hits = [[] for dummy in contents]
    known = [0] * len(contents)
    for file_index, line, rule, inside in found:
        hits[file_index].append((line, rule, inside))
    for file_index, dummy, dummy in budget.known:
        known[file_index] += 1
    for file_hits in hits:
        file_hits.sort(key=lambda hit: (hit[2], hit[0], hit[1]))
    return hits, [budget.reasons.get(index, []) for index in range(len(contents))], known


def scan_bytes(data, basename='', max_decoded_size=DEFAULT_MAX_DECODED_SIZE, max_depth=DEFAULT_MAX_DEPTH):
    """Content findings of one file's bytes as ``(hits, reasons)``.

    ``hits`` is a sorted list of ``(line, rule, inside)``, one per rule, line and layer, ``inside`` '' for plain
    content; ``reasons`` says why the content could not be scanned fully (empty when it was). ``basename`` is the
    file's name: some rules only apply to some files (``.netrc``).
    """
    hits, reasons, dummy = _scan_contents([data], max_decoded_size, max_depth)
    return sorted(hits[0] + _plain_name_content_hits(data, basename), key=lambda hit: (hit[2], hit[0], hit[1])), \
        reasons[0]


def _plain_name_content_hits(data, basename):
    """Rules that read the content of files with some names only (.netrc)."""
    if basename not in _NETRC_NAMES:
        return []
    return sorted(set((_line_of(data, match.start(), 0), 'netrc_password', '')
                      for match in _NETRC_PASSWORD.finditer(data)))


# ---------------------------------------------------------------------------------------------------------------
# Files

def _name_rules(path):
    basename = os.path.basename(path)
    rules = []
    if basename in _SSH_KEY_NAMES:
        rules.append('ssh_private_key_file')
    if basename == 'credentials' and os.path.basename(os.path.dirname(path)) == '.aws':
        rules.append('aws_credentials_file')
    if basename.lower().endswith('.ppk'):
        rules.append('putty_private_key_file')
    return rules


def _read(path, max_file_size, known=()):
    """``(content or None, inode, reason)``; content is None when the file could not be read fully (reason says why).

    Returns ``None`` when ``path`` is not a regular file (symbolic link, socket, device, FIFO, gone), and
    ``(None, inode, None)`` without reading when the inode is in ``known`` (another hard link was read). The file is
    opened without following a symbolic link and without blocking on a FIFO.
    """
    flags = os.O_RDONLY | getattr(os, 'O_NOFOLLOW', 0) | getattr(os, 'O_NONBLOCK', 0)
    try:
        fd = os.open(path, flags)
    except (IOError, OSError) as exc:
        if not os.path.isfile(path) or os.path.islink(path):
            return None
        return None, None, 'unreadable: %s' % (exc.strerror or exc)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        inode = (info.st_dev, info.st_ino)
        if inode in known:
            return None, inode, None
        if info.st_size > max_file_size:
            return None, inode, '%d bytes, bigger than max_file_size (%d bytes)' % (info.st_size, max_file_size)
        # Read what fstat said and at most one byte more: a file that grew beyond the limit is not read fully.
        content = _read_up_to(fd, min(info.st_size, max_file_size) + 1)
        if len(content) > max_file_size:
            return None, inode, 'it grew bigger than max_file_size (%d bytes) while it was read' % max_file_size
        if len(content) > info.st_size:
            content += _read_up_to(fd, max_file_size + 1 - len(content))
            if len(content) > max_file_size:
                return None, inode, 'it grew bigger than max_file_size (%d bytes) while it was read' % max_file_size
        return content, inode, None
    except (IOError, OSError) as exc:
        return None, None, 'unreadable: %s' % (exc.strerror or exc)
    finally:
        os.close(fd)


def _read_up_to(fd, size):
    """At most ``size`` bytes from ``fd``, fewer at its end."""
    parts = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 30))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return parts[0] if len(parts) == 1 else b''.join(parts)


class _Entry:
    """One file's content outcome (shared by its hard links): content hits, reasons, known test keys, size."""

    def __init__(self, size, inode):
        self.size = size
        self.inode = inode
        self.hits = []
        self.reasons = []
        self.known = 0


class _Scanner:
    """Reads files, scans small ones in batches, and keeps one content outcome per inode."""

    def __init__(self, max_file_size, max_decoded_size, max_depth):
        self.max_file_size = max_file_size
        self.max_decoded_size = max_decoded_size
        self.max_depth = max_depth
        self.inodes = {}
        self.batch = []
        self.batch_size = 0
        self.paths = []

    def add(self, path):
        """Record ``path``: its name rules now, its content when its batch is scanned."""
        basename = os.path.basename(path)
        vault_name = fnmatch.fnmatchcase(basename.lower(), _VAULT_PASSWORD_NAME)
        outcome = _read(path, self.max_file_size, () if vault_name or basename in _NETRC_NAMES else self.inodes)
        if outcome is None:
            return
        content, inode, reason = outcome
        names = [(None, rule, '') for rule in _name_rules(path)]
        if vault_name:
            # A vault-encrypted file named like a password file is fine; anything else there is a password.
            if content is None or not content.lstrip().startswith(_VAULT_HEADER):
                names.append((None, 'ansible_vault_password_file', ''))
        if content is not None:
            names.extend(_plain_name_content_hits(content, basename))
        entry = self.inodes.get(inode) if inode is not None else None
        if entry is None:
            entry = _Entry(0 if content is None else len(content), inode)
            if reason:
                entry.reasons.append(reason)
            if inode is not None:
                self.inodes[inode] = entry
            if content is not None:
                self.batch.append((entry, content))
                self.batch_size += len(content)
                if len(content) >= _BATCH_FILE or self.batch_size >= _BATCH_SIZE:
                    self.flush()
        self.paths.append((path, names, entry))

    def flush(self):
        if not self.batch:
            return
        entries = [entry for entry, dummy in self.batch]
        contents = [content for dummy, content in self.batch]
        self.batch = []
        self.batch_size = 0
        hits, reasons, known = _scan_contents(contents, self.max_decoded_size, self.max_depth)
        del contents
        for entry, file_hits, file_reasons, file_known in zip(entries, hits, reasons, known):
            entry.hits = file_hits
            entry.reasons.extend(file_reasons)
            entry.known = file_known


def scan_file(path, max_file_size=DEFAULT_MAX_FILE_SIZE, max_decoded_size=DEFAULT_MAX_DECODED_SIZE,
              max_depth=DEFAULT_MAX_DEPTH):
    """Findings of one file as ``(hits, reasons)``, or ``None`` when ``path`` is not a regular file.

    ``hits`` is a list of ``(line, rule, inside)``, line None for rules that match the name; ``reasons`` says why
    the content could not be scanned fully (empty when it was).
    """
    scanner = _Scanner(max_file_size, max_decoded_size, max_depth)
    scanner.add(path)
    scanner.flush()
    if not scanner.paths:
        return None
    dummy, names, entry = scanner.paths[0]
    return names + entry.hits, list(entry.reasons)


def _walk_files(root, exclude_paths, mounts=None, met=None):
    """Regular files under directory ``root``, depth first, not following symbolic links, pruning excludes.

    The mount points in ``mounts`` are not entered; each one met is added to the set ``met``.
    """
    mounts = mounts or {}
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            with os.scandir(directory) as iterator:
                entries = sorted(iterator, key=lambda entry: entry.name, reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.path in mounts:
                if met is not None:
                    met.add(entry.path)
                continue
            if any(fnmatch.fnmatchcase(entry.path, pattern) for pattern in exclude_paths):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
            except OSError:
                continue


def _check_limit(value, option):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SecretScanError('%s: expected a number >= 0, got %r' % (option, value))


def _scan_paths(paths, limits):
    """``[(path, name hits, content hits, reasons, known test keys, size, inode)]`` of the files in ``paths``."""
    scanner = _Scanner(*limits)
    for path in paths:
        scanner.add(path)
    scanner.flush()
    return [(path, names, entry.hits, entry.reasons, entry.known, entry.size, entry.inode)
            for path, names, entry in scanner.paths]


def default_workers():
    """Processes a scan uses: the CPUs this process may run on, at most MAX_WORKERS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


def _partition(paths, workers):
    """``paths`` in ``workers`` groups of about the same work: bytes, plus a fixed cost per file."""
    weighted = []
    for path in paths:
        try:
            size = os.lstat(path).st_size
        except OSError:
            size = 0
        weighted.append((size + _FILE_COST, path))
    weighted.sort(reverse=True)
    groups = [[] for dummy in range(workers)]
    loads = [0] * workers
    for weight, path in weighted:
        index = loads.index(min(loads))
        groups[index].append(path)
        loads[index] += weight
    return groups


def _scan_parallel(paths, limits, workers):
    """:func:`_scan_paths` over ``workers`` processes (forked; this one scans a share too)."""
    if workers <= 1 or len(paths) < _PARALLEL_FILES or not hasattr(os, 'fork'):
        return _scan_paths(paths, limits)
    groups = _partition(paths, workers)
    children = []
    for group in groups[1:]:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, which leaves with os._exit
            code = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, 'wb') as out:
                    out.write(pickle.dumps(_scan_paths(group, limits), pickle.HIGHEST_PROTOCOL))
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end, group))
    results = _scan_paths(groups[0], limits)
    for pid, read_end, group in children:
        with os.fdopen(read_end, 'rb') as handle:
            payload = handle.read()
        dummy, status = os.waitpid(pid, 0)
        try:
            if status != 0:
                raise ValueError('worker exited with status %d' % status)
            results.extend(pickle.loads(payload))
        except Exception:
            # A worker that failed (out of memory, killed): scan its share here.
            results.extend(_scan_paths(group, limits))
    return results


def scan(paths=None, exclude_paths=None, allowlist=None, max_file_size=DEFAULT_MAX_FILE_SIZE,
         max_decoded_size=DEFAULT_MAX_DECODED_SIZE, max_depth=DEFAULT_MAX_DEPTH, mounts=None, workers=None):
    """Scan ``paths`` (directories or files, absolute) and return a dict.

    The dict has ``findings`` (sorted list of ``{'path', 'rule', 'line'}``, plus ``inside`` for a secret inside
    encoded content and ``reason`` for an ``incomplete_scan``), ``allowlisted_findings``, ``known_test_keys``,
    ``scanned_files``, ``skipped_files`` (not read fully), ``scanned_bytes``, ``skipped_mounts`` and ``limits``.
    ``exclude_paths`` and ``allowlist`` are fnmatch patterns matched against absolute paths (``*`` also matches
    ``/``); an excluded directory is not entered at all. ``mounts`` is ``[(mount point, filesystem type)]``, by
    default read from ``/proc/self/mountinfo``. ``workers`` is the number of processes (default:
    :func:`default_workers`).
    """
    paths = DEFAULT_PATHS if paths is None else paths
    exclude_paths = _normalize_patterns(DEFAULT_EXCLUDE_PATHS if exclude_paths is None else exclude_paths,
                                        'exclude_paths')
    allowlist = _normalize_patterns(allowlist, 'allowlist')
    if not paths:
        raise SecretScanError('paths: give at least one directory to scan')
    _check_limit(max_file_size, 'max_file_size')
    _check_limit(max_decoded_size, 'max_decoded_size')
    _check_limit(max_depth, 'max_depth')
    roots = []
    for path in paths:
        if not isinstance(path, str) or not os.path.isabs(path):
            raise SecretScanError('paths: %r is not an absolute path' % (path,))
        if not os.path.lexists(path):
            raise SecretScanError('paths: %s does not exist' % path)
        roots.append(os.path.normpath(path))
    skipped = unpersisted_mounts(read_mounts() if mounts is None else mounts)
    met = set()

    files = []
    seen = set()
    for root in roots:
        if is_excluded(root, exclude_paths):
            continue
        if os.path.isdir(root) and not os.path.islink(root):
            candidates = _walk_files(root, exclude_paths, skipped, met)
        else:
            candidates = [root]
        for path in candidates:
            if path not in seen:
                seen.add(path)
                files.append(path)
    limits = (max_file_size, max_decoded_size, max_depth)
    outcomes = _scan_parallel(files, limits, default_workers() if workers is None else workers)

    result = {'findings': [], 'allowlisted_findings': 0, 'known_test_keys': 0, 'scanned_files': 0,
              'skipped_files': 0, 'scanned_bytes': 0, 'skipped_mounts': sorted(met),
              'limits': {'max_file_size': max_file_size, 'max_decoded_size': max_decoded_size,
                         'max_depth': max_depth}}
    inodes = set()
    for path, names, hits, reasons, known, size, inode in outcomes:
        if inode is None or inode not in inodes:
            inodes.add(inode)
            result['scanned_bytes'] += size
        result['skipped_files' if reasons else 'scanned_files'] += 1
        result['known_test_keys'] += known
        found = []
        for line, rule, inside in names + hits:
            finding = {'path': path, 'rule': rule, 'line': line}
            if inside:
                finding['inside'] = inside
            found.append(finding)
        found.extend({'path': path, 'rule': INCOMPLETE_RULE, 'line': None, 'reason': reason} for reason in reasons)
        if found and is_allowlisted(path, allowlist):
            result['allowlisted_findings'] += len(found)
        else:
            result['findings'].extend(found)
    result['findings'].sort(key=_finding_sort_key)
    return result


def findings_message(findings):
    """The failure message for ``findings``: each path and rule (or why it was not read), and how to allowlist."""
    secrets = [finding for finding in findings if finding['rule'] != INCOMPLETE_RULE]
    incomplete = [finding for finding in findings if finding['rule'] == INCOMPLETE_RULE]
    lines = []
    if secrets:
        lines.append('secret_scan found %d secret(s) that must not be baked into the image:' % len(secrets))
        for finding in secrets:
            where = finding['path'] if finding['line'] is None else '%s line %d' % (finding['path'], finding['line'])
            if finding.get('inside'):
                where = '%s of the %s' % (where, finding['inside'])
            lines.append('  - %s (rule %s)' % (where, finding['rule']))
    if incomplete:
        lines.append('secret_scan could not read %d file(s) fully, so they may hide a secret:' % len(incomplete))
        for finding in incomplete:
            lines.append('  - %s: %s' % (finding['path'], finding['reason']))
    lines.append(
        'Remove each secret from the image and provide it to instances at run time instead. If a finding is a '
        'false positive, or a file that cannot be read fully is known to be harmless, add a glob pattern that '
        'matches its path to the image_seal role variable %s (the allowlist option of '
        'immutable.infra.secret_scan).' % ALLOWLIST_VARIABLE)
    return '\n'.join(lines)

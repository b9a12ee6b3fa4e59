# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The provenance manifest of a sealed image (docs/architecture.md, "Sealed-image marker").

Runs on the target: standard library only. The manifest is a JSON object::

    {
      "schema": 1,
      "name": "web", "version": "1.2.0", "revision": "<git commit>",
      "bake_key": "<sha256 hex>", "parent_image": "sha256:...",
      "roles": ["bake_guard", "nginx", "image_seal"],
      "packages": {"nginx": "1.22.1-9"},
      "files": {"/etc/nginx/nginx.conf": "<sha256 hex>"},
      "built": "2026-11-26T15:11:00Z",
      "collection_version": "0.1.0", "source": "https://git.example.com/team/app.git"
    }

``collection_version`` (of immutable.infra, which baked it) and ``source`` (where the project lives) are
optional: written when given.

:func:`ensure_manifest` writes or removes it (idempotent: an unchanged manifest keeps its ``built`` time),
:func:`validate_manifest` lists what is wrong with one (image tests reuse it).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import datetime
import errno
import hashlib
import json
import os
import re
import stat

from ansible_collections.immutable.infra.plugins.module_utils.image_files import write_atomic as write_file_atomic
from ansible_collections.immutable.infra.plugins.module_utils.semver import is_valid

SCHEMA = 1
DEFAULT_PATH = '/etc/immutable-infra/manifest.json'
FILE_MODE = 0o644
DIRECTORY_MODE = 0o755

MANIFEST_KEYS = ('schema', 'name', 'version', 'revision', 'bake_key', 'parent_image', 'roles', 'packages', 'files',
                 'built')
OPTIONAL_KEYS = ('collection_version', 'source')

# Installed packages only: dpkg-query -W also lists removed packages whose configuration files are left.
DPKG_QUERY_FORMAT = '${Package}\\t${Version}\\t${db:Status-Status}\\n'

_SHA256 = re.compile(r'[0-9a-f]{64}\Z')
_RFC3339_UTC = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?Z\Z')

_STRING_KEYS = ('name', 'version', 'revision', 'bake_key', 'parent_image', 'built')


class ImageManifestError(Exception):
    """The manifest cannot be built, written or removed; the message says why and what to do."""


def _is_semver(version):
    return isinstance(version, str) and is_valid(version)


def is_rfc3339_utc(value):
    """True for a UTC time such as ``2026-11-26T15:11:00Z`` (optionally with a fraction of a second)."""
    if not isinstance(value, str) or not _RFC3339_UTC.match(value):
        return False
    try:
        datetime.datetime.strptime(value[:19], '%Y-%m-%dT%H:%M:%S')
    except ValueError:
        return False
    return True


def utc_now():
    """The current UTC time in RFC 3339, to the second: ``2026-11-26T15:11:00Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def validate_manifest(data):
    """Problems with a manifest (a parsed JSON value), as a list of messages; empty when it is valid."""
    if not isinstance(data, dict):
        return ['the manifest is not a JSON object (got %s)' % type(data).__name__]
    problems = []
    missing = [key for key in MANIFEST_KEYS if key not in data]
    if missing:
        problems.append('missing keys: %s' % ', '.join(missing))
    unknown = sorted(str(key) for key in data if key not in MANIFEST_KEYS + OPTIONAL_KEYS)
    if unknown:
        problems.append('unknown keys: %s' % ', '.join(unknown))

    if 'schema' in data and (not isinstance(data['schema'], int) or isinstance(data['schema'], bool)
                             or data['schema'] != SCHEMA):
        problems.append('schema: expected %d, got %r' % (SCHEMA, data['schema']))
    for key in _STRING_KEYS + OPTIONAL_KEYS:
        if key in data and (not isinstance(data[key], str) or not data[key]):
            problems.append('%s: expected a non-empty string, got %r' % (key, data[key]))
    if isinstance(data.get('version'), str) and data['version'] and not _is_semver(data['version']):
        problems.append('version: %r is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], '
                        'e.g. 1.2.0)' % data['version'])
    if isinstance(data.get('bake_key'), str) and data['bake_key'] and not _SHA256.match(data['bake_key']):
        problems.append('bake_key: %r is not a sha256 checksum (64 lower-case hex digits)' % data['bake_key'])
    if isinstance(data.get('built'), str) and data['built'] and not is_rfc3339_utc(data['built']):
        problems.append('built: %r is not an RFC 3339 UTC time (e.g. 2026-11-26T15:11:00Z)' % data['built'])

    if 'roles' in data:
        roles = data['roles']
        if not isinstance(roles, list) or not all(isinstance(role, str) and role for role in roles):
            problems.append('roles: expected a list of role names, got %r' % (roles,))
    if 'packages' in data:
        packages = data['packages']
        if not isinstance(packages, dict) or not all(
                isinstance(package, str) and package and isinstance(version, str) and version
                for package, version in packages.items()):
            problems.append('packages: expected an object of package name to version, got %r' % (packages,))
    if 'files' in data:
        files = data['files']
        if not isinstance(files, dict):
            problems.append('files: expected an object of absolute path to sha256, got %r' % (files,))
        else:
            for path in sorted(files, key=str):
                if not isinstance(path, str) or not path.startswith('/'):
                    problems.append('files: %r is not an absolute path' % path)
                if not isinstance(files[path], str) or not _SHA256.match(files[path]):
                    problems.append('files: the checksum of %s is not a sha256 checksum (64 lower-case hex '
                                    'digits): %r' % (path, files[path]))
    return problems


def file_sha256(path):
    """sha256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b''):
            digest.update(block)
    return digest.hexdigest()


def checksum_files(paths):
    """``{path: sha256}`` of the regular files ``paths`` (absolute; symbolic links are followed)."""
    checksums = {}
    for path in paths or []:
        if not isinstance(path, str) or not os.path.isabs(path):
            raise ImageManifestError('managed_files: %r is not an absolute path' % (path,))
        if not os.path.exists(path):
            raise ImageManifestError('managed_files: %s does not exist; remove it from the list or make the role '
                                     'that manages it create it' % path)
        if not os.path.isfile(path):
            raise ImageManifestError('managed_files: %s is not a regular file' % path)
        try:
            checksums[path] = file_sha256(path)
        except (IOError, OSError) as exc:
            raise ImageManifestError('managed_files: cannot read %s: %s' % (path, exc))
    return checksums


def installed_packages(run_command, dpkg_query):
    """``{package: version}`` of the installed Debian packages.

    ``run_command`` takes an argument list and returns ``(rc, stdout, stderr)`` (AnsibleModule.run_command);
    ``dpkg_query`` is the path of dpkg-query, ``None`` when it is not installed.
    """
    if not dpkg_query:
        raise ImageManifestError('packages: dpkg-query was not found, so the installed packages cannot be '
                                 'recorded; set packages=false on an image without dpkg')
    rc, stdout, stderr = run_command([dpkg_query, '-W', '-f', DPKG_QUERY_FORMAT])
    if rc != 0:
        raise ImageManifestError('packages: %s -W failed (rc=%s): %s' % (dpkg_query, rc, (stderr or stdout).strip()))
    packages = {}
    for line in stdout.splitlines():
        fields = line.split('\t')
        if len(fields) < 2 or not fields[0] or not fields[1]:
            continue
        if len(fields) > 2 and fields[2] != 'installed':
            continue
        packages.setdefault(fields[0], fields[1])
    return packages


def build_manifest(name, version, revision, bake_key, parent_image, roles, packages, files, built,
                   collection_version=None, source=None):
    """The manifest dict; raises ImageManifestError listing every problem (see validate_manifest)."""
    manifest = {
        'schema': SCHEMA,
        'name': name,
        'version': version,
        'revision': revision,
        'bake_key': bake_key,
        'parent_image': parent_image,
        'roles': list(roles or []),
        'packages': dict(packages or {}),
        'files': dict(files or {}),
        'built': built,
    }
    for key, value in (('collection_version', collection_version), ('source', source)):
        if value:
            manifest[key] = value
    problems = validate_manifest(manifest)
    if problems:
        raise ImageManifestError('invalid manifest: %s' % '; '.join(problems))
    return manifest


def render(manifest):
    """The manifest as written to disk: sorted keys, two-space indent, final newline."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + '\n'


def read_text(path):
    """Content of ``path`` as text, ``None`` when it does not exist."""
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')
    except (IOError, OSError) as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise ImageManifestError('cannot read %s: %s' % (path, exc))


def _parse(text):
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _without_built(manifest):
    return dict((key, value) for key, value in manifest.items() if key != 'built')


def _owner_wanted():
    """``(uid, gid)`` the manifest must have: root, when running as root (otherwise it cannot be changed)."""
    if hasattr(os, 'geteuid') and os.geteuid() == 0:
        return 0, 0
    return None


def _attributes_differ(path):
    info = os.stat(path)
    if stat.S_IMODE(info.st_mode) != FILE_MODE:
        return True
    owner = _owner_wanted()
    return owner is not None and (info.st_uid, info.st_gid) != owner


def _make_directory(directory):
    if os.path.isdir(directory):
        return
    parent = os.path.dirname(directory)
    if parent != directory:
        _make_directory(parent)
    try:
        os.mkdir(directory, DIRECTORY_MODE)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    else:
        os.chmod(directory, DIRECTORY_MODE)


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename.

    Creates missing parent directories (mode 0755); the file gets mode 0644 and, when running as root, owner
    root. Readers see the old content or the new one, never a part.
    """
    try:
        _make_directory(os.path.dirname(path))
        write_file_atomic(path, text.encode('utf-8'), FILE_MODE, _owner_wanted())
    except (IOError, OSError) as exc:
        raise ImageManifestError('cannot write %s: %s' % (path, exc))


def _fix_attributes(path):
    try:
        os.chmod(path, FILE_MODE)
        owner = _owner_wanted()
        if owner is not None:
            os.chown(path, owner[0], owner[1])
    except OSError as exc:
        raise ImageManifestError('cannot set the mode or owner of %s: %s' % (path, exc))


def ensure_manifest(path=DEFAULT_PATH, state='present', name=None, version=None, revision=None, bake_key=None,
                    parent_image=None, roles=None, managed_files=None, packages=True, built=None,
                    run_command=None, dpkg_query=None, check_mode=False, now=utc_now, collection_version=None,
                    source=None):
    """Make the manifest at ``path`` present (with these values) or absent.

    ``packages``: record the installed Debian packages through ``run_command`` and ``dpkg_query`` (see
    :func:`installed_packages`), or record none. ``built``: the build time; when ``None``, the ``built`` of the
    existing manifest is kept if nothing else changed, otherwise ``now()`` is used. In ``check_mode`` everything
    is computed and nothing is written.

    Returns ``{'changed', 'path', 'manifest', 'diff': {'before', 'after'}}``; ``manifest`` is ``{}`` when
    ``state`` is ``absent``.
    """
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ImageManifestError('path: %r is not an absolute path' % (path,))
    if state not in ('present', 'absent'):
        raise ImageManifestError('state: expected present or absent, got %r' % (state,))
    if os.path.isdir(path):
        raise ImageManifestError('path: %s is a directory; give the path of the manifest file' % path)
    before = read_text(path)

    if state == 'absent':
        changed = before is not None
        if changed and not check_mode:
            try:
                os.unlink(path)
            except OSError as exc:
                raise ImageManifestError('cannot remove %s: %s' % (path, exc))
        return {'changed': changed, 'path': path, 'manifest': {}, 'diff': _diff(path, before, '')}

    missing = [option for option, value in (('name', name), ('version', version), ('revision', revision),
                                            ('bake_key', bake_key), ('parent_image', parent_image)) if not value]
    if missing:
        raise ImageManifestError('state=present needs %s' % ', '.join(missing))
    if not _is_semver(version):
        raise ImageManifestError('version: %r is not a semantic version (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], '
                                 'e.g. 1.2.0 or 1.2.0-rc.1)' % (version,))
    if built is not None and not is_rfc3339_utc(built):
        raise ImageManifestError('built: %r is not an RFC 3339 UTC time such as 2026-11-26T15:11:00Z' % (built,))

    recorded_packages = installed_packages(run_command, dpkg_query) if packages else {}
    files = checksum_files(managed_files)
    manifest = build_manifest(name, version, revision, bake_key, parent_image, roles, recorded_packages, files,
                              built or now(), collection_version, source)
    if built is None:
        existing = _parse(before) if before is not None else None
        if (existing is not None and is_rfc3339_utc(existing.get('built'))
                and _without_built(existing) == _without_built(manifest)):
            manifest['built'] = existing['built']

    after = render(manifest)
    content_changed = after != before
    changed = content_changed or _attributes_differ(path)
    if changed and not check_mode:
        if content_changed:
            write_atomic(path, after)
        else:
            _fix_attributes(path)
    return {'changed': changed, 'path': path, 'manifest': manifest, 'diff': _diff(path, before, after)}


def _diff(path, before, after):
    return {'before': before or '', 'after': after, 'before_header': path, 'after_header': path}

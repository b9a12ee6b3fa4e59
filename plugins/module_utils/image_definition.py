# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image definitions as inventory data (docs/architecture.md, "Image definitions").

The collection's built-in definitions (``immutable_builtin_images``) are merged with the user's
(``immutable_images``, a user entry replaces the built-in one of the same name), every definition is validated
(:func:`validate_images`), and the image to bake is resolved with its parent chain (:func:`resolve_chain`):
the roles found on the roles path and the collections path with their meta dependencies, the files whose
content goes into the bake key (labelled, so that the key does not depend on where the project or a
collection lives), the tests that gate the image and the Packer template. :func:`docker_changes` turns an
image's container settings into the Dockerfile-style instructions of Packer's docker ``changes``.

Plain functions over plain values; they raise ``ImageDefinitionError`` with the image and field named.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import json
import os
import re

from ansible_collections.immutable.infra.plugins.module_utils.channels import NAME_RE
from ansible_collections.immutable.infra.plugins.module_utils.images import LABEL_STOP_SIGNAL
from ansible_collections.immutable.infra.plugins.module_utils.semver import is_valid

FIELDS = ('parent', 'roles', 'vars', 'inputs', 'container', 'tests', 'template', 'initial_version')
CONTAINER_FIELDS = ('entrypoint', 'cmd', 'ports', 'user', 'env', 'workdir', 'labels', 'stop_signal')
DEFAULT_INITIAL_VERSION = '1.0.0'
COLLECTION = 'immutable.infra'
# Roles every bake applies: bake_guard first, image_seal last (never listed in a definition).
GUARD_ROLE = 'bake_guard'
SEAL_ROLE = 'image_seal'
STOP_SIGNAL_LABEL = LABEL_STOP_SIGNAL
RESERVED_LABEL_PREFIXES = ('org.opencontainers.image.', 'io.immutable-infra.')

ROLE_RE = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_-]*')
FQCN_RE = re.compile(r'([a-z0-9_]+)\.([a-z0-9_]+)\.([A-Za-z0-9_][A-Za-z0-9_-]*)')
ENV_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
LABEL_RE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._/-]*')
PORT_RE = re.compile(r'([0-9]{1,5})(?:/(tcp|udp|sctp))?')
SIGNAL_RE = re.compile(r'SIG[A-Z0-9+-]+|[0-9]{1,2}')
USER_RE = re.compile(r'[A-Za-z0-9_.-]+(?::[A-Za-z0-9_.-]+)?')
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')


class ImageDefinitionError(Exception):
    """An image definition is invalid or cannot be resolved; the message names the image and the field."""


def merge_images(builtin, user):
    """``{name: {'definition': ..., 'origin': 'collection' | 'project'}}``: the built-in definitions with the
    user's over them (a user entry of the same name replaces the built-in one whole)."""
    if user is None:
        user = {}
    for what, value in (('immutable_builtin_images', builtin), ('immutable_images', user)):
        if not isinstance(value, dict):
            raise ImageDefinitionError('%s must be a mapping of image name to definition, got %s'
                                       % (what, type(value).__name__))
    merged = dict((name, {'definition': definition, 'origin': 'collection'}) for name, definition in builtin.items())
    merged.update((name, {'definition': definition, 'origin': 'project'}) for name, definition in user.items())
    return merged


def _problem(problems, name, field, message):
    problems.append('image %s, field %s: %s' % (name, field, message))


def _scalar(value):
    return isinstance(value, (str, int, float)) and not isinstance(value, bool) or isinstance(value, bool)


def _scalar_text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _relative_path_problem(value):
    if not isinstance(value, str) or not value:
        return 'expected a path relative to the project, got %r' % (value,)
    if os.path.isabs(value):
        return '%s is absolute: give a path relative to the project directory' % value
    if '..' in value.replace('\\', '/').split('/'):
        return '%s leaves the project directory' % value
    return None


def _command_problem(value):
    if isinstance(value, str):
        return None if value.strip() and not CONTROL_RE.search(value) else 'a command string must not be empty'
    if isinstance(value, list) and all(isinstance(v, str) and not CONTROL_RE.search(v) for v in value):
        return None
    return 'expected a list of strings (exec form) or a string (run by /bin/sh -c), got %r' % (value,)


def port_spec(value):
    """``'8080/tcp'`` for a port given as 8080, '8080' or '8080/tcp'; None when it is not a valid port."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return '%d/tcp' % value if 1 <= value <= 65535 else None
    if isinstance(value, str):
        match = PORT_RE.fullmatch(value.strip())
        if match and 1 <= int(match.group(1)) <= 65535:
            return '%d/%s' % (int(match.group(1)), match.group(2) or 'tcp')
    return None


def _validate_container(problems, name, container):
    if not isinstance(container, dict):
        _problem(problems, name, 'container', 'expected a mapping of %s' % ', '.join(CONTAINER_FIELDS))
        return
    for key in sorted(str(k) for k in container if k not in CONTAINER_FIELDS):
        _problem(problems, name, 'container.%s' % key,
                 'unknown field (known: %s)' % ', '.join(CONTAINER_FIELDS))
    for key in ('entrypoint', 'cmd'):
        if container.get(key) is not None:
            problem = _command_problem(container[key])
            if problem:
                _problem(problems, name, 'container.%s' % key, problem)
    ports = container.get('ports')
    if ports is not None:
        if not isinstance(ports, list):
            _problem(problems, name, 'container.ports', 'expected a list of ports (8080 or "53/udp"), got %r'
                     % (ports,))
        else:
            for port in ports:
                if port_spec(port) is None:
                    _problem(problems, name, 'container.ports', '%r is not a port: a number from 1 to 65535, '
                             'optionally with /tcp, /udp or /sctp' % (port,))
    user = container.get('user')
    if user is not None and not (isinstance(user, int) and not isinstance(user, bool) and user >= 0
                                 or isinstance(user, str) and USER_RE.fullmatch(user)):
        _problem(problems, name, 'container.user', '%r is not a user: a name or uid, optionally :group' % (user,))
    env = container.get('env')
    if env is not None:
        if not isinstance(env, dict):
            _problem(problems, name, 'container.env', 'expected a mapping of variable name to value')
        else:
            for key, value in sorted(env.items(), key=lambda kv: str(kv[0])):
                if not isinstance(key, str) or not ENV_RE.fullmatch(key):
                    _problem(problems, name, 'container.env', '%r is not a variable name (letters, digits and _, '
                             'not starting with a digit)' % (key,))
                elif value is None or not _scalar(value) or CONTROL_RE.search(_scalar_text(value)):
                    _problem(problems, name, 'container.env', 'the value of %s must be a string, number or '
                             'boolean without control characters, got %r' % (key, value))
    workdir = container.get('workdir')
    if workdir is not None and not (isinstance(workdir, str) and workdir.startswith('/')
                                    and not CONTROL_RE.search(workdir) and ' ' not in workdir):
        _problem(problems, name, 'container.workdir', '%r is not an absolute path without spaces' % (workdir,))
    labels = container.get('labels')
    if labels is not None:
        if not isinstance(labels, dict):
            _problem(problems, name, 'container.labels', 'expected a mapping of label to value')
        else:
            for key, value in sorted(labels.items(), key=lambda kv: str(kv[0])):
                if not isinstance(key, str) or not LABEL_RE.fullmatch(key):
                    _problem(problems, name, 'container.labels', '%r is not a label name' % (key,))
                elif key.startswith(RESERVED_LABEL_PREFIXES):
                    _problem(problems, name, 'container.labels', '%s is set by the bake (labels starting with %s '
                             'are reserved)' % (key, ' or '.join(RESERVED_LABEL_PREFIXES)))
                elif value is None or not _scalar(value) or CONTROL_RE.search(_scalar_text(value)):
                    _problem(problems, name, 'container.labels', 'the value of %s must be a string, number or '
                             'boolean without control characters, got %r' % (key, value))
    signal = container.get('stop_signal')
    if signal is not None and not (isinstance(signal, str) and SIGNAL_RE.fullmatch(signal)
                                   or isinstance(signal, int) and not isinstance(signal, bool) and 1 <= signal <= 64):
        _problem(problems, name, 'container.stop_signal', '%r is not a signal (SIGTERM, SIGQUIT or a number)'
                 % (signal,))


def _role_name_problem(role):
    if isinstance(role, str) and (FQCN_RE.fullmatch(role) or ROLE_RE.fullmatch(role)):
        return None
    return '%r is not a role name (a name such as hello, or a FQCN such as my_ns.my_coll.hello)' % (role,)


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def validate_definitions(merged):
    """Problems of the structure of every definition (fields, types, values, parents), as messages."""
    problems = []
    for name in sorted(merged, key=str):
        definition = merged[name]['definition']
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            problems.append('image %r: not an image name (lowercase letters and digits separated by single - or _, '
                            'for example hello)' % (name,))
            continue
        if not isinstance(definition, dict):
            problems.append('image %s: the definition must be a mapping of %s' % (name, ', '.join(FIELDS)))
            continue
        for key in sorted(str(k) for k in definition if k not in FIELDS):
            _problem(problems, name, key, 'unknown field (known: %s)' % ', '.join(FIELDS))
        parent = definition.get('parent', 'os')
        if isinstance(parent, dict):
            unknown = sorted(str(k) for k in parent if k != 'ref')
            if unknown or not isinstance(parent.get('ref'), str) or not parent['ref'].strip() \
                    or any(c.isspace() for c in parent['ref']):
                _problem(problems, name, 'parent', "an image you bring is given as {ref: 'NAME:TAG'} (or an image "
                         "ID), got %r" % (parent,))
        elif not isinstance(parent, str):
            _problem(problems, name, 'parent', "expected os, the name of a defined image or {ref: 'NAME:TAG'}, "
                     "got %r" % (parent,))
        elif parent != 'os' and parent not in merged:
            _problem(problems, name, 'parent', 'unknown parent image %r (defined images: %s; os is the bootstrap '
                     'OS image)' % (parent, ', '.join(sorted(merged))))
        elif parent == name:
            _problem(problems, name, 'parent', 'an image cannot be its own parent')
        roles = definition.get('roles')
        if not isinstance(roles, list) or not roles:
            _problem(problems, name, 'roles', 'expected a non-empty list of role names or FQCNs, got %r' % (roles,))
        else:
            for role in roles:
                problem = _role_name_problem(role)
                if problem:
                    _problem(problems, name, 'roles', problem)
                elif role.split('.')[-1] in (GUARD_ROLE, SEAL_ROLE):
                    _problem(problems, name, 'roles', '%s is applied to every image by the bake (bake_guard first, '
                             'image_seal last): do not list it' % role)
        if definition.get('vars') is not None and not isinstance(definition['vars'], dict):
            _problem(problems, name, 'vars', 'expected a mapping of role variables, got %r' % (definition['vars'],))
        for field in ('inputs', 'tests'):
            value = definition.get(field)
            if value is not None and not isinstance(value, (list, str)):
                _problem(problems, name, field, 'expected a list of paths, got %r' % (value,))
                continue
            if merged[name]['origin'] == 'project':
                for path in _as_list(value):
                    problem = _relative_path_problem(path)
                    if problem:
                        _problem(problems, name, field, problem)
        template = definition.get('template')
        if template is not None and merged[name]['origin'] == 'project':
            problem = _relative_path_problem(template)
            if problem:
                _problem(problems, name, 'template', problem)
        initial = definition.get('initial_version')
        if initial is not None and not (isinstance(initial, str) and is_valid(initial)):
            _problem(problems, name, 'initial_version', '%r is not a semantic version (for example 1.0.0)'
                     % (initial,))
        if definition.get('container') is not None:
            _validate_container(problems, name, definition['container'])
    problems.extend(_cycles(merged))
    return problems


def _cycles(merged):
    problems = []
    for name in sorted(merged, key=str):
        seen, current = [name], name
        while True:
            definition = merged.get(current, {}).get('definition')
            parent = definition.get('parent', 'os') if isinstance(definition, dict) else 'os'
            if not isinstance(parent, str) or parent == 'os' or parent not in merged or parent == current:
                break
            if parent in seen:
                problems.append('image %s, field parent: the parents form a cycle (%s)'
                                % (name, ' -> '.join(seen + [parent])))
                break
            seen.append(parent)
            current = parent
    return problems


# Roles: where Ansible finds them.

def collection_version(collection_dir):
    """Version of a collection from its MANIFEST.json (installed) or galaxy.yml (a source checkout), else ''."""
    manifest = os.path.join(collection_dir, 'MANIFEST.json')
    if os.path.isfile(manifest):
        try:
            with open(manifest) as handle:
                return str(json.load(handle)['collection_info']['version'])
        except (IOError, OSError, ValueError, KeyError, TypeError):
            return ''
    galaxy = os.path.join(collection_dir, 'galaxy.yml')
    if os.path.isfile(galaxy):
        with open(galaxy) as handle:
            for line in handle:
                match = re.match(r'version:\s*["\']?([^"\'\s#]+)', line)
                if match:
                    return match.group(1)
    return ''


def _collection_dirs(namespace, collection, collections_paths):
    for base in collections_paths:
        for candidate in (os.path.join(base, 'ansible_collections', namespace, collection),
                          os.path.join(base, namespace, collection) if os.path.basename(base) == 'ansible_collections'
                          else None):
            if candidate and os.path.isdir(candidate):
                yield candidate


def _role(name, path, collection='', version=''):
    return {'name': name, 'path': os.path.abspath(path), 'collection': collection, 'collection_version': version,
            'ref': name if collection and '.' in name else os.path.abspath(path)}


def find_role(name, roles_path, collections_paths, within=None):
    """Where Ansible finds role ``name``: a dict with ``name``, ``path``, ``collection`` ('' for a role of the
    roles path), ``collection_version``, ``ref`` (what the provision play includes: the FQCN of a collection
    role, the folder of any other). ``within``: the role whose dependency this is (its collection and its folder
    are searched first, as Ansible does). None when it is not found."""
    match = FQCN_RE.fullmatch(name)
    if match:
        namespace, collection, role = match.groups()
        for collection_dir in _collection_dirs(namespace, collection, collections_paths):
            path = os.path.join(collection_dir, 'roles', role)
            if os.path.isdir(path):
                return _role(name, path, '%s.%s' % (namespace, collection), collection_version(collection_dir))
        return None
    if within and within['collection']:
        path = os.path.join(os.path.dirname(within['path']), name)
        if os.path.isdir(path):
            collection_dir = os.path.dirname(os.path.dirname(path))
            return _role('%s.%s' % (within['collection'], name), path, within['collection'],
                         collection_version(collection_dir))
    search = ([os.path.dirname(within['path'])] if within else []) + list(roles_path)
    for base in search:
        path = os.path.join(base, name)
        if os.path.isdir(path) and (os.path.isdir(os.path.join(path, 'tasks'))
                                    or os.path.isdir(os.path.join(path, 'meta'))):
            return _role(name, path)
    return None


def role_dependencies(role_path):
    """Role names of the meta/main.yml dependencies of a role folder (strings or dicts with role or name)."""
    from ansible.module_utils.common.yaml import yaml_load  # the controller has PyYAML (ansible-core needs it)
    for filename in ('main.yml', 'main.yaml'):
        path = os.path.join(role_path, 'meta', filename)
        if os.path.isfile(path):
            with open(path) as handle:
                meta = yaml_load(handle) or {}
            break
    else:
        return []
    names = []
    for dependency in (meta.get('dependencies') or []) if isinstance(meta, dict) else []:
        if isinstance(dependency, dict):
            dependency = dependency.get('role') or dependency.get('name')
        if isinstance(dependency, str) and dependency:
            names.append(dependency)
    return names


def role_closure(image, roles, roles_path, collections_paths, builtin_roles_dir=None):
    """Every role applied for ``roles`` (in order, each with its dependencies, each once). ``builtin_roles_dir``:
    roles of a built-in definition are the collection's own (short names are looked up there only)."""
    found, todo = [], []
    for role in roles:
        if builtin_roles_dir and not FQCN_RE.fullmatch(role):
            path = os.path.join(builtin_roles_dir, role)
            entry = _role(role, path) if os.path.isdir(path) else None
        else:
            entry = find_role(role, roles_path, collections_paths)
        if entry is None:
            raise ImageDefinitionError(_missing_role(image, 'roles', role, roles_path, collections_paths))
        entry['listed'] = True
        todo.append(entry)
    seen = set()
    while todo:
        entry = todo.pop(0)
        if entry['path'] in seen:
            continue
        seen.add(entry['path'])
        found.append(entry)
        for dependency in role_dependencies(entry['path']):
            dep = find_role(dependency, roles_path, collections_paths, within=entry)
            if dep is None:
                raise ImageDefinitionError(_missing_role(image, 'roles', dependency, roles_path, collections_paths,
                                                         'a dependency of role %s (%s/meta/main.yml)'
                                                         % (entry['name'], entry['path'])))
            dep['listed'] = False
            todo.append(dep)
    return found


def _missing_role(image, field, role, roles_path, collections_paths, what=None):
    where = ('collections path %s' % ':'.join(collections_paths)) if FQCN_RE.fullmatch(role) \
        else ('roles path %s' % ':'.join(roles_path))
    return 'image %s, field %s: role %s%s was not found on the %s' % (
        image, field, role, (' (%s)' % what) if what else '', where)


MODULE_CALL_RE = re.compile(r'^\s*-?\s*immutable\.infra\.([a-z_]+):', re.M)
UTILS_IMPORT_RE = re.compile(r'ansible_collections\.immutable\.infra\.plugins\.module_utils\.([a-z_]+)')


def collection_module_inputs(collection_root, role_paths):
    """Collection-relative paths of every immutable.infra module the roles' task files call and of the
    module_utils those import, recursively: their code runs in the bake, so it goes into the bake key."""
    needed, todo = set(), []
    for role_path in role_paths:
        for top, dirs, files in os.walk(role_path):
            dirs.sort()
            for filename in sorted(files):
                if filename.endswith(('.yml', '.yaml')):
                    with open(os.path.join(top, filename)) as handle:
                        todo += ['plugins/modules/%s.py' % m for m in MODULE_CALL_RE.findall(handle.read())]
    while todo:
        rel = todo.pop()
        path = os.path.join(collection_root, rel)
        if rel in needed or not os.path.isfile(path):
            continue
        needed.add(rel)
        with open(path) as handle:
            todo += ['plugins/module_utils/%s.py' % m for m in UTILS_IMPORT_RE.findall(handle.read())]
    return sorted(needed)


# The chain to bake.

def resolve_chain(merged, name, project_dir, collection_root, roles_path, collections_paths):
    """The images to bake for ``name``, parent first: a list of dicts (see :func:`resolve_image`). Validates
    every definition first; raises ImageDefinitionError listing every problem."""
    if not isinstance(name, str) or name not in merged:
        raise ImageDefinitionError('image %r is not defined. Defined images: %s (the collection\'s built-in ones '
                                   'and your inventory\'s immutable_images)' % (name, ', '.join(sorted(merged))))
    problems = validate_definitions(merged)
    resolved = {}
    for image in sorted(merged):
        if any(p.startswith('image %s,' % image) or p.startswith('image %s:' % image) for p in problems):
            continue
        try:
            resolved[image] = resolve_image(merged, image, project_dir, collection_root, roles_path,
                                            collections_paths)
        except ImageDefinitionError as exc:
            problems.append(str(exc))
    if problems:
        raise ImageDefinitionError('invalid image definitions, nothing was baked: %s' % '; '.join(problems))
    chain, current = [], name
    while True:
        chain.insert(0, resolved[current])
        parent = resolved[current]['parent']
        if parent['kind'] != 'image':
            break
        current = parent['name']
    return chain


def _existing(image, field, base, rel):
    path = os.path.join(base, rel)
    if not os.path.exists(path):
        raise ImageDefinitionError('image %s, field %s: %s does not exist (looked for %s)' % (image, field, rel, path))
    return os.path.abspath(path)


def resolve_image(merged, name, project_dir, collection_root, roles_path, collections_paths):
    """One image resolved: ``name``, ``origin``, ``parent`` ({kind: os|image|ref, name, ref}), ``roles`` (every
    role applied, dependencies included, see :func:`find_role`), ``role_refs`` and ``role_names`` (the listed
    roles: what the provision play includes and the manifest records), ``sources`` ([{label, path}] whose
    content goes into the bake key), ``key_values`` (the definition's values for the bake key), ``vars``,
    ``container``, ``tests`` (absolute paths; empty: the generic start check only), ``template`` (file or
    folder), ``initial_version``."""
    entry = merged[name]
    definition, origin = entry['definition'], entry['origin']
    builtin = origin == 'collection'
    base = collection_root if builtin else project_dir
    parent = definition.get('parent', 'os')
    if isinstance(parent, dict):
        parent = {'kind': 'ref', 'name': '', 'ref': parent['ref']}
    elif parent == 'os':
        parent = {'kind': 'os', 'name': 'os', 'ref': ''}
    else:
        parent = {'kind': 'image', 'name': parent, 'ref': ''}
    roles = role_closure(name, definition['roles'], roles_path, collections_paths,
                         os.path.join(collection_root, 'roles') if builtin else None)
    sources = []
    for role in roles:
        sources.append({'label': 'role:%s' % role['name'], 'path': role['path']})
    for rel in collection_module_inputs(collection_root, [r['path'] for r in roles]):
        sources.append({'label': '%s:%s' % (COLLECTION, rel), 'path': os.path.join(collection_root, rel)})
    label = COLLECTION if builtin else 'project'
    for rel in _as_list(definition.get('inputs')):
        sources.append({'label': '%s:%s' % (label, rel), 'path': _existing(name, 'inputs', base, rel)})
    template = definition.get('template')
    if template is not None:
        template = _existing(name, 'template', base, template)
        sources.append({'label': '%s:template' % label, 'path': template})
    if definition.get('tests') is not None:
        tests = [_existing(name, 'tests', base, rel) for rel in _as_list(definition['tests'])]
    elif builtin and os.path.isfile(os.path.join(collection_root, 'tests', 'image', 'test_%s.py' % name)):
        tests = [os.path.join(collection_root, 'tests', 'image', 'test_%s.py' % name)]
    else:
        tests = []
    container = normalize_container(definition.get('container') or {})
    key_values = {
        'origin': origin,
        'parent': parent,
        'roles': [dict((k, r[k]) for k in ('name', 'collection', 'collection_version')) for r in roles],
        'vars': definition.get('vars') or {},
        'container': container,
        'custom_template': template is not None,
    }
    listed = [r for r in roles if r.get('listed')]
    return {
        'name': name,
        'origin': origin,
        'parent': parent,
        'roles': roles,
        'role_names': list(definition['roles']),
        'role_refs': [r['ref'] for r in listed],
        'sources': sources,
        'key_values': key_values,
        'vars': definition.get('vars') or {},
        'container': container,
        'tests': tests,
        'template': template or '',
        'initial_version': definition.get('initial_version') or DEFAULT_INITIAL_VERSION,
    }


# Container settings and Packer's changes.

def _command(value):
    if value is None:
        return None
    if isinstance(value, str):
        return ['/bin/sh', '-c', value]
    return list(value)


def normalize_container(container):
    """The container settings in one form: commands as lists, ports as 'N/proto', env and labels as strings."""
    return {
        'entrypoint': _command(container.get('entrypoint')),
        'cmd': _command(container.get('cmd')),
        'ports': [port_spec(p) for p in container.get('ports') or []],
        'user': _scalar_text(container['user']) if container.get('user') is not None else None,
        'env': dict((k, _scalar_text(v)) for k, v in (container.get('env') or {}).items()),
        'workdir': container.get('workdir'),
        'labels': dict((k, _scalar_text(v)) for k, v in (container.get('labels') or {}).items()),
        'stop_signal': _scalar_text(container['stop_signal']) if container.get('stop_signal') is not None else None,
    }


def quote(value):
    """A Dockerfile word in double quotes (backslash, double quote and $ escaped)."""
    return '"%s"' % str(value).replace('\\', '\\\\').replace('"', '\\"').replace('$', '\\$')


def docker_changes(name, container, labels, parent_config=None):
    """The Dockerfile-style instructions of an image's commit (Packer's docker ``changes``).

    ``container``: normalized settings (:func:`normalize_container`); ``labels``: the bake's labels in order
    (provenance, bake key...); ``parent_config``: the parent image's ``Entrypoint`` and ``Cmd``, which the image
    keeps when its definition sets neither (Packer runs the build container with ``--entrypoint=/bin/sh``, and
    the commit would keep that). An ENTRYPOINT without a cmd gets ``CMD []``, as in a Dockerfile. ``docker commit``
    has no STOPSIGNAL change: ``stop_signal`` becomes the label ``io.immutable-infra.stop-signal``.
    """
    parent_config = parent_config or {}
    entrypoint, cmd = container.get('entrypoint'), container.get('cmd')
    if entrypoint is None:
        entrypoint = parent_config.get('Entrypoint') or []
        if cmd is None:
            cmd = parent_config.get('Cmd') or []
    elif cmd is None:
        cmd = []
    every_label = [('org.opencontainers.image.title', name), ('io.immutable-infra.name', name)] + list(labels)
    if container.get('stop_signal'):
        # docker commit takes no STOPSIGNAL change: the signal is a label, which instances are created with.
        every_label.append((STOP_SIGNAL_LABEL, container['stop_signal']))
    every_label += sorted((container.get('labels') or {}).items())
    changes = ['LABEL %s' % ' '.join('%s=%s' % (key, quote(value)) for key, value in every_label),
               'ENTRYPOINT %s' % json.dumps(list(entrypoint)),
               'CMD %s' % json.dumps(list(cmd))]
    if container.get('ports'):
        changes.append('EXPOSE %s' % ' '.join(container['ports']))
    if container.get('env'):
        changes.append('ENV %s' % ' '.join('%s=%s' % (k, quote(v)) for k, v in sorted(container['env'].items())))
    if container.get('user'):
        changes.append('USER %s' % container['user'])
    if container.get('workdir'):
        changes.append('WORKDIR %s' % container['workdir'])
    return changes

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet specs and the pure arithmetic of a rollout. No engine access: plain values in, plain values out.

A fleet spec is declared as inventory data (``immutable_fleets.<name>``, see
``inventory/group_vars/all/fleets.yml``); :func:`resolve_spec` merges the overrides (flat extra-var names such as
``max_surge`` or ``health_path``, or nested dicts), fills in the defaults, coerces strings given on the command
line and validates everything, so a bad value fails before anything changes.

The rest is arithmetic the engine and the unit tests share: counts or percentages (:func:`resolve_count`), the
limits of a rolling rollout (:func:`rolling_limits`), one rolling step (:func:`rolling_step`) and the whole
plan (:func:`plan_rolling`), the weights that give a canary its share of the traffic (:func:`canary_weights`) and
the verdict of a canary analysis (:func:`analyse_canary`).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import copy
import ipaddress
import math
import re

from ansible_collections.immutable.infra.plugins.module_utils.channels import ChannelError, channel_problem, check_name
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    FILESYSTEM_DIFF, KEEP_STOPPED, STAGED_SWITCH, TRAFFIC_COUNTERS, WEIGHTED_TRAFFIC,
)
from ansible_collections.immutable.infra.plugins.module_utils.semver import SemVer, SemVerError

FLEET_NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,39}$')
STRATEGIES = ('rolling', 'blue_green', 'canary')
# Most instances a fleet may have (the spec's ``instances``).
MAX_INSTANCES = 100

# The controller's health request target: an absolute path with an optional query, printable ASCII only (no
# space, no control character, no fragment).
HEALTH_PATH_RE = re.compile(r'/[!-"$->@-~]*(?:\?[!-"$-~]*)?')
# ``HOST:PORT`` of the load balancer: an IPv4 address, an IPv6 address in brackets or ``localhost``.
LISTEN_RE = re.compile(r'(?:\[(?P<ipv6>[^\[\]]*)\]|(?P<host>[^:\[\]]*)):(?P<port>[^:]*)')
LISTEN_FORMS = 'HOST:PORT with an IP address or localhost as HOST (127.0.0.1:8080, [::1]:8080, localhost:8080)'

# Weight of an instance in normal service; a canary gets a weight computed from its share of the traffic.
NORMAL_WEIGHT = 100
MAX_WEIGHT = 256

DEFAULTS = {
    'image': None,
    'version': None,
    'channel': None,
    'require_verified': True,
    'instances': 3,
    'service_port': 8080,
    'health': {
        'path': '/healthz',
        'status': 200,
        'interval': 1,
        'healthy_threshold': 2,
        'timeout': 2,
        'start_period': 30,
    },
    'listen': '127.0.0.1:8080',
    'listen_public': False,
    'lb_image': 'lb',
    'lb_version': None,
    'lb_channel': None,
    'strategy': 'rolling',
    'rolling': {'max_surge': 1, 'max_unavailable': 0},
    'blue_green': {'keep_revisions': 1},
    'canary': {
        'canary_instances': 1,
        'canary_weight': 20,
        'analysis_window': 10,
        'max_5xx_ratio': 0.05,
        'max_response_time_ratio': 2.0,
        'response_time_floor': 20,
        'min_requests': 0,
    },
    'drain_timeout': 5,
    'monitor': 3,
    'stop_timeout': 10,
}

GROUPS = ('health', 'rolling', 'blue_green', 'canary')

# Flat override names (extra vars) of the fields inside a group.
FLAT_OVERRIDES = {
    'health_path': ('health', 'path'),
    'health_status': ('health', 'status'),
    'health_interval': ('health', 'interval'),
    'healthy_threshold': ('health', 'healthy_threshold'),
    'health_healthy_threshold': ('health', 'healthy_threshold'),
    'health_timeout': ('health', 'timeout'),
    'health_start_period': ('health', 'start_period'),
    'max_surge': ('rolling', 'max_surge'),
    'max_unavailable': ('rolling', 'max_unavailable'),
    'keep_revisions': ('blue_green', 'keep_revisions'),
    'canary_instances': ('canary', 'canary_instances'),
    'canary_weight': ('canary', 'canary_weight'),
    'analysis_window': ('canary', 'analysis_window'),
    'max_5xx_ratio': ('canary', 'max_5xx_ratio'),
    'max_response_time_ratio': ('canary', 'max_response_time_ratio'),
    'response_time_floor': ('canary', 'response_time_floor'),
    'min_requests': ('canary', 'min_requests'),
}

# Override names of top-level fields under another name: ``strategy`` is a reserved name in Ansible (a play
# keyword), so ``-e strategy=...`` warns on every run; ``rollout_strategy`` is the override of that field.
RENAMED_FIELDS = {'rollout_strategy': 'strategy'}
# Old override names that still work, with a deprecation warning: old name -> new name.
DEPRECATED_OVERRIDES = {'strategy': 'rollout_strategy'}


class FleetError(Exception):
    """A fleet spec, a plan or a rollout step is wrong or failed; the message says which and what to do.

    ``result`` carries what the caller should still report (plan, events, outcome) when a rollout failed.
    """

    def __init__(self, msg, result=None):
        super(FleetError, self).__init__(msg)
        self.result = result or {}


def override_names():
    """Every name an override (extra var) should use: the top-level fields (``rollout_strategy`` for
    ``strategy``), the groups and the flat names of group fields. The deprecated names
    (``DEPRECATED_OVERRIDES``) still work."""
    top = [k for k in DEFAULTS if k not in GROUPS and k not in DEPRECATED_OVERRIDES]
    return sorted(top + list(GROUPS) + list(FLAT_OVERRIDES) + list(RENAMED_FIELDS))


def override_deprecations(overrides):
    """Deprecation messages for the overrides given under an old name (``strategy``), in the order of the names."""
    messages = []
    for old in sorted(DEPRECATED_OVERRIDES):
        if (overrides or {}).get(old) is not None:
            new = DEPRECATED_OVERRIDES[old]
            messages.append('the override %s is deprecated (Ansible reserves the name %s, so -e %s=... warns on '
                            'every run): use %s instead, for example -e %s=%s'
                            % (old, old, old, new, new, overrides[old]))
    return messages


def overridden_strategy(overrides):
    """The strategy an override asks for (``rollout_strategy``, or the deprecated ``strategy``), or None."""
    overrides = overrides or {}
    for name in ('rollout_strategy', 'strategy'):
        if overrides.get(name) not in (None, ''):
            return overrides[name]
    return None


# Coercion ---------------------------------------------------------------------------------------------------
def _fail(fleet, field, value, expected):
    return FleetError('fleet %s: %s is %r, expected %s' % (fleet, field, value, expected))


def _int(fleet, field, value, minimum=None, maximum=None):
    if isinstance(value, bool):
        raise _fail(fleet, field, value, 'an integer')
    try:
        if isinstance(value, float) and value == int(value):
            value = int(value)
        number = value if isinstance(value, int) else int(str(value).strip())
    except (TypeError, ValueError):
        raise _fail(fleet, field, value, 'an integer')
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        bounds = 'an integer %s' % ('>= %s' % minimum if maximum is None else 'from %s to %s' % (minimum, maximum))
        raise _fail(fleet, field, value, bounds)
    return number


def _number(fleet, field, value, minimum=None, exclusive=False):
    if isinstance(value, bool):
        raise _fail(fleet, field, value, 'a number')
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _fail(fleet, field, value, 'a number')
    if math.isnan(number) or math.isinf(number):
        raise _fail(fleet, field, value, 'a finite number')
    if minimum is not None and (number <= minimum if exclusive else number < minimum):
        raise _fail(fleet, field, value, 'a number %s %s' % ('>' if exclusive else '>=', minimum))
    return int(number) if number == int(number) and not isinstance(value, float) else number


def _bool(fleet, field, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0'):
        return False
    raise _fail(fleet, field, value, 'a boolean')


def _count_or_percent(fleet, field, value):
    """An instance count (``2``) or a percentage of the fleet (``'25%'``); returned as int or ``'25%'``."""
    if isinstance(value, str) and value.strip().endswith('%'):
        text = value.strip()[:-1].strip()
        try:
            percent = float(text)
        except ValueError:
            raise _fail(fleet, field, value, 'a count (2) or a percentage (25%)')
        if percent < 0 or percent > 100:
            raise _fail(fleet, field, value, 'a percentage from 0% to 100%')
        return '%s%%' % (int(percent) if percent == int(percent) else percent)
    return _int(fleet, field, value, minimum=0)


def resolve_count(value, total, round_up):
    """A count from ``value`` (count or ``'NN%'`` of ``total``): percentages round up or down as asked."""
    if isinstance(value, str) and value.endswith('%'):
        exact = total * float(value[:-1]) / 100.0
        return int(math.ceil(exact - 1e-9)) if round_up else int(math.floor(exact + 1e-9))
    return int(value)


def parse_listen(fleet, value):
    """``'127.0.0.1:8080'`` -> ``('127.0.0.1', 8080)``; ``'[::1]:8080'`` -> ``('::1', 8080)``;
    ``'localhost:8080'`` -> ``('127.0.0.1', 8080)``.

    The host is what the engine binds: a plain IP address (the Docker engine publishes a port on every interface
    when its host IP is anything else, a name or an empty string). FleetError names the fleet and ``listen``.
    """
    match = LISTEN_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise _fail(fleet, 'listen', value, LISTEN_FORMS)
    port = match.group('port')
    if not re.fullmatch(r'[0-9]{1,5}', port) or not 1 <= int(port) <= 65535:
        raise _fail(fleet, 'listen', value, '%s and a port from 1 to 65535' % LISTEN_FORMS)
    if match.group('ipv6') is not None:
        text = match.group('ipv6')
        try:
            address = ipaddress.IPv6Address(text) if '%' not in text else None
        except ValueError:
            address = None
        if address is None:
            raise _fail(fleet, 'listen', value, 'an IPv6 address in brackets ([::1]:8080; no zone), or %s'
                        % LISTEN_FORMS)
        return str(address), int(port)
    text = match.group('host')
    if text == 'localhost':
        return '127.0.0.1', int(port)
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise _fail(fleet, 'listen', value, LISTEN_FORMS)
    return str(address), int(port)


def format_listen(host, port):
    """``HOST:PORT`` as written in a spec: an IPv6 host in brackets (``[::1]:8080``)."""
    return '[%s]:%d' % (host, port) if ':' in host else '%s:%d' % (host, port)


def is_public_listen(host):
    """True when ``host`` (an IP address from ``parse_listen``) is not a loopback address: every address that
    other machines may reach, ``0.0.0.0`` and ``::`` (all interfaces) included."""
    return not ipaddress.ip_address(host).is_loopback


def listen_note(spec):
    """The plan line of a fleet whose load balancer is published on a public address, or None."""
    if not is_public_listen(spec['listen_host']):
        return None
    return ('load balancer published on PUBLIC address %s (listen_public: true)'
            % format_listen(spec['listen_host'], spec['listen_port']))


def _image_name(fleet, field, value, example):
    """An image name by the catalog's rule (channels.check_name)."""
    if not isinstance(value, str):
        raise _fail(fleet, field, value, 'an image name (%s)' % example)
    try:
        return check_name(value.strip())
    except ChannelError:
        raise _fail(fleet, field, value, 'an image name (%s): lowercase letters and digits, separated by single - '
                    'or _' % example)


def _health_path(fleet, value):
    if not isinstance(value, str) or not HEALTH_PATH_RE.fullmatch(value):
        raise _fail(fleet, 'health.path', value, 'an absolute path with an optional query (/healthz, /ready?full=1): '
                    'printable ASCII, starting with /, no space, control character or #')
    return value


# The spec --------------------------------------------------------------------------------------------------
def _merge_overrides(fleet, spec, overrides):
    merged = copy.deepcopy(spec)
    known = set(DEFAULTS) | set(FLAT_OVERRIDES) | set(RENAMED_FIELDS)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in known:
            raise FleetError('fleet %s: unknown override %r; known names: %s'
                             % (fleet, key, ', '.join(override_names())))
        if key in RENAMED_FIELDS:
            old = overrides.get(RENAMED_FIELDS[key])
            if old is not None and str(old).strip() != str(value).strip():
                raise FleetError('fleet %s: the overrides %s (%s) and %s (%s) disagree; give %s only'
                                 % (fleet, key, value, RENAMED_FIELDS[key], old, key))
            merged[RENAMED_FIELDS[key]] = value
        elif key in FLAT_OVERRIDES:
            group, field = FLAT_OVERRIDES[key]
            merged.setdefault(group, {})
            merged[group] = dict(merged[group] or {}, **{field: value})
        elif key in GROUPS:
            if not isinstance(value, dict):
                raise _fail(fleet, key, value, 'a mapping')
            merged[key] = dict(merged.get(key) or {}, **value)
        else:
            merged[key] = value
            # A version given on the command line replaces a channel declared in the inventory, and back.
            if key == 'version':
                merged['channel'] = None
            elif key == 'channel':
                merged['version'] = None
            elif key == 'lb_version':
                merged['lb_channel'] = None
            elif key == 'lb_channel':
                merged['lb_version'] = None
    return merged


def _version_or_channel(fleet, spec, version_key, channel_key, what):
    version, channel = spec.get(version_key), spec.get(channel_key)
    if version not in (None, '') and channel not in (None, ''):
        raise FleetError('fleet %s: %s has both %s (%s) and %s (%s); give one of them'
                         % (fleet, what, version_key, version, channel_key, channel))
    if version in (None, '') and channel in (None, ''):
        raise FleetError('fleet %s: %s needs %s or %s (for example -e %s=1.2.0)'
                         % (fleet, what, version_key, channel_key, version_key))
    if version not in (None, ''):
        version = str(version).strip()
        try:
            SemVer.parse(version)
        except SemVerError as exc:
            raise FleetError('fleet %s: %s %s: %s' % (fleet, version_key, version, exc))
        return version, None
    channel = str(channel).strip()
    problem = channel_problem(channel)
    if problem:
        raise FleetError('fleet %s: %s is %r, which is not a channel name: %s' % (fleet, channel_key, channel, problem))
    return None, channel


def resolve_spec(fleet, spec, overrides=None):
    """The complete, validated spec of ``fleet`` from its inventory ``spec`` and ``overrides``.

    Raises FleetError naming the field at fault. The result has every field of ``DEFAULTS`` plus ``name`` and
    ``listen_host``/``listen_port``.
    """
    if not isinstance(fleet, str) or not FLEET_NAME_RE.match(fleet):
        raise FleetError('fleet name %r is not valid: lower-case letters, digits and "-", at most 40 characters'
                         % (fleet,))
    if spec is None:
        raise FleetError('fleet %s is not declared: add it to immutable_fleets in the inventory '
                         '(inventory/group_vars/all/fleets.yml)' % fleet)
    if not isinstance(spec, dict):
        raise _fail(fleet, 'spec', spec, 'a mapping')
    given = _merge_overrides(fleet, spec, overrides)
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise FleetError('fleet %s: unknown field(s) %s; known fields: %s'
                         % (fleet, ', '.join(unknown), ', '.join(sorted(DEFAULTS))))
    result = copy.deepcopy(DEFAULTS)
    for key, value in given.items():
        if key in GROUPS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise _fail(fleet, key, value, 'a mapping')
            extra = sorted(set(value) - set(DEFAULTS[key]))
            if extra:
                raise FleetError('fleet %s: unknown field(s) %s in %s; known: %s'
                                 % (fleet, ', '.join(extra), key, ', '.join(sorted(DEFAULTS[key]))))
            result[key].update({k: v for k, v in value.items() if v is not None})
        elif value is not None:
            result[key] = value

    out = {'name': fleet}
    out['image'] = _image_name(fleet, 'image', result['image'], 'web')
    out['version'], out['channel'] = _version_or_channel(fleet, result, 'version', 'channel', 'the fleet image')
    out['require_verified'] = _bool(fleet, 'require_verified', result['require_verified'])
    out['instances'] = _int(fleet, 'instances', result['instances'], minimum=1, maximum=MAX_INSTANCES)
    out['service_port'] = _int(fleet, 'service_port', result['service_port'], minimum=1, maximum=65535)

    health = result['health']
    out['health'] = {
        'path': _health_path(fleet, health['path']),
        'status': _int(fleet, 'health.status', health['status'], minimum=100, maximum=599),
        'interval': _number(fleet, 'health.interval', health['interval'], minimum=0, exclusive=True),
        'healthy_threshold': _int(fleet, 'health.healthy_threshold', health['healthy_threshold'], minimum=1),
        'timeout': _number(fleet, 'health.timeout', health['timeout'], minimum=0, exclusive=True),
        'start_period': _number(fleet, 'health.start_period', health['start_period'], minimum=0),
    }

    out['listen_host'], out['listen_port'] = parse_listen(fleet, result['listen'])
    # What the provider labels its load balancer with, and check_lb compares: the host as the engine binds it.
    out['listen'] = '%s:%d' % (out['listen_host'], out['listen_port'])
    out['listen_public'] = _bool(fleet, 'listen_public', result['listen_public'])
    if is_public_listen(out['listen_host']) and not out['listen_public']:
        where = ('on every interface of this host' if ipaddress.ip_address(out['listen_host']).is_unspecified
                 else 'on an address other machines may reach')
        raise FleetError('fleet %s: listen %s would publish the load balancer %s; set listen_public: true in the '
                         'fleet spec (or -e listen_public=true) to publish it there, or listen on a loopback address '
                         '(127.0.0.1:%d)' % (fleet, format_listen(out['listen_host'], out['listen_port']), where,
                                             out['listen_port']))
    out['lb_image'] = _image_name(fleet, 'lb_image', result['lb_image'], 'lb')
    out['lb_version'], out['lb_channel'] = _version_or_channel(
        fleet, result, 'lb_version', 'lb_channel', 'the load balancer image')

    strategy = str(result['strategy']).strip()
    if strategy not in STRATEGIES:
        raise _fail(fleet, 'strategy', strategy, 'one of %s' % ', '.join(STRATEGIES))
    out['strategy'] = strategy
    rolling = result['rolling']
    out['rolling'] = {
        'max_surge': _count_or_percent(fleet, 'rolling.max_surge', rolling['max_surge']),
        'max_unavailable': _count_or_percent(fleet, 'rolling.max_unavailable', rolling['max_unavailable']),
    }
    out['blue_green'] = {
        'keep_revisions': _int(fleet, 'blue_green.keep_revisions', result['blue_green']['keep_revisions'],
                               minimum=0, maximum=10),
    }
    canary = result['canary']
    out['canary'] = {
        'canary_instances': _int(fleet, 'canary.canary_instances', canary['canary_instances'], minimum=1),
        'canary_weight': _number(fleet, 'canary.canary_weight', canary['canary_weight'], minimum=0,
                                 exclusive=True),
        'analysis_window': _number(fleet, 'canary.analysis_window', canary['analysis_window'], minimum=0,
                                   exclusive=True),
        'max_5xx_ratio': _number(fleet, 'canary.max_5xx_ratio', canary['max_5xx_ratio'], minimum=0),
        'max_response_time_ratio': _number(fleet, 'canary.max_response_time_ratio',
                                           canary['max_response_time_ratio'], minimum=0, exclusive=True),
        'response_time_floor': _number(fleet, 'canary.response_time_floor', canary['response_time_floor'],
                                       minimum=0),
        'min_requests': _int(fleet, 'canary.min_requests', canary['min_requests'], minimum=0),
    }
    if out['canary']['canary_weight'] >= 100:
        raise _fail(fleet, 'canary.canary_weight', canary['canary_weight'], 'a percentage of the traffic below 100')
    if out['canary']['max_5xx_ratio'] > 1:
        raise _fail(fleet, 'canary.max_5xx_ratio', canary['max_5xx_ratio'], 'a ratio from 0 to 1')
    out['drain_timeout'] = _number(fleet, 'drain_timeout', result['drain_timeout'], minimum=0)
    out['monitor'] = _number(fleet, 'monitor', result['monitor'], minimum=0)
    out['stop_timeout'] = _int(fleet, 'stop_timeout', result['stop_timeout'], minimum=0)

    # Settings that cannot work together fail here, before anything changes.
    rolling_limits(out)
    if strategy == 'canary' and out['canary']['canary_instances'] > out['instances']:
        raise FleetError('fleet %s: canary_instances (%d) is more than instances (%d)'
                         % (fleet, out['canary']['canary_instances'], out['instances']))
    return out


# Provider capabilities -------------------------------------------------------------------------------------
def needed_capabilities(spec, strategy=None, operation='rollout'):
    """What ``operation`` (``rollout``, ``drift``) of the fleet ``spec`` with ``strategy`` (the spec's when None)
    needs from the provider: ``[(capability, what needs it)]`` (see ``provider.CAPABILITIES``)."""
    if operation == 'drift':
        return [(FILESYSTEM_DIFF, "drift reads each instance's filesystem changes against its image")]
    strategy = strategy or spec['strategy']
    needs = []
    if strategy == 'canary':
        needs.append((WEIGHTED_TRAFFIC, 'strategy canary gives the canary %s%% of the traffic by weight '
                      '(canary_weight)' % spec['canary']['canary_weight']))
        needs.append((TRAFFIC_COUNTERS, "strategy canary compares the canary's errors and response times with "
                      "the baseline's"))
    elif strategy == 'blue_green':
        needs.append((STAGED_SWITCH, 'strategy blue_green stages the new set without traffic and switches it in '
                      'one step'))
        if spec['blue_green']['keep_revisions']:
            needs.append((KEEP_STOPPED, 'strategy blue_green keeps %d previous revision(s) stopped for an instant '
                          'rollback (keep_revisions)' % spec['blue_green']['keep_revisions']))
    return needs


def check_capabilities(fleet, spec, provider, capabilities, strategy=None, operation='rollout'):
    """Refuse, before anything changes, what provider ``provider`` (its name) cannot do with its ``capabilities``:
    FleetError naming the provider, each missing capability and what needed it."""
    missing = [(capability, why) for capability, why in needed_capabilities(spec, strategy, operation)
               if capability not in capabilities]
    if not missing:
        return
    advice = 'use a provider that has it'
    if operation == 'rollout':
        advice = 'use rollout_strategy rolling (it needs none of them) or a provider that has it'
        if (strategy or spec['strategy']) == 'blue_green' and all(c == KEEP_STOPPED for c, dummy in missing):
            advice = 'set keep_revisions to 0, use rollout_strategy rolling, or use a provider that has it'
    raise FleetError('fleet %s: provider %s lacks %s. Nothing was changed: %s.'
                     % (fleet, provider, ', '.join('%s (%s)' % (c, why) for c, why in missing), advice))


# Rolling arithmetic ----------------------------------------------------------------------------------------
def rolling_limits(spec):
    """``(surge, unavailable)`` as instance counts for ``spec``; FleetError when both are zero.

    Percentages are of the desired instance count: the surge rounds up, the unavailable count rounds down (so
    ``25%`` of 3 is a surge of 1 and an unavailable count of 0).
    """
    total = spec['instances']
    surge = resolve_count(spec['rolling']['max_surge'], total, round_up=True)
    unavailable = resolve_count(spec['rolling']['max_unavailable'], total, round_up=False)
    unavailable = min(unavailable, total)
    if surge == 0 and unavailable == 0:
        raise FleetError(
            'fleet %s: max_surge (%s) and max_unavailable (%s) both come to 0 instances of %d, so a rolling '
            'rollout could never move: set max_surge >= 1 (extra instances while rolling) or max_unavailable >= 1 '
            '(instances that may be missing while rolling)'
            % (spec['name'], spec['rolling']['max_surge'], spec['rolling']['max_unavailable'], total))
    return surge, unavailable


def rolling_step(old, new, desired, surge, unavailable):
    """One rolling step from ``old`` instances to replace and ``new`` instances already at the target.

    Returns ``(retire_first, create, retire_after)``: instances of the old set to retire before creating,
    new instances to create (health-gated and put into the load balancer), and old instances to retire
    after them. The fleet never has fewer than ``desired - unavailable`` serving instances nor more than
    ``desired + surge`` instances. ``(0, 0, 0)`` means done.
    """
    if surge < 0 or unavailable < 0 or (surge == 0 and unavailable == 0):
        raise FleetError('rolling needs max_surge or max_unavailable above 0 (got %s and %s)' % (surge, unavailable))
    if new >= desired and old == 0:
        return 0, 0, 0
    total = old + new
    retire_first = min(old, max(0, total - (desired - unavailable)))
    create = max(0, min(desired - new, desired + surge - (total - retire_first)))
    retire_after = min(old - retire_first, max(0, total - retire_first + create - desired))
    return retire_first, create, retire_after


def plan_rolling(old, new, desired, surge, unavailable):
    """Every step of a rolling rollout, as ``rolling_step`` gives them: a list of (retire_first, create, retire)."""
    steps = []
    while True:
        step = rolling_step(old, new, desired, surge, unavailable)
        if step == (0, 0, 0):
            return steps
        retire_first, create, retire_after = step
        steps.append(step)
        old -= retire_first + retire_after
        new += create
        if len(steps) > 1000:  # pragma: no cover - rolling_step always moves
            raise FleetError('rolling plan does not converge')


# Canary arithmetic -----------------------------------------------------------------------------------------
def canary_weights(baseline, canaries, percent, normal=NORMAL_WEIGHT, maximum=MAX_WEIGHT):
    """``(canary_weight, share)``: the HAProxy weight of each canary so that the canaries together get
    ``percent`` % of the traffic next to ``baseline`` instances at ``normal`` weight, and the share (in %) that
    weight really gives (weights are integers from 1 to ``maximum``).
    """
    if canaries <= 0:
        raise FleetError('a canary needs at least one canary instance')
    if baseline <= 0:
        return normal, 100.0
    exact = percent * baseline * normal / ((100.0 - percent) * canaries)
    weight = int(min(maximum, max(1, round(exact))))
    share = 100.0 * canaries * weight / (canaries * weight + baseline * normal)
    return weight, round(share, 2)


def stats_delta(before, after, names):
    """Requests, errors (5xx and broken responses) and mean response time over ``names`` between two
    snapshots of per-server counters (``{name: {'responses', 'errors', 'rtime'}}``)."""
    requests = errors = 0
    weighted_rtime = 0.0
    for name in names:
        end = after.get(name)
        if end is None:
            continue
        start = before.get(name) or {}
        got = max(0, end.get('responses', 0) - start.get('responses', 0))
        requests += got
        errors += max(0, end.get('errors', 0) - start.get('errors', 0))
        weighted_rtime += got * end.get('rtime', 0)
    return {
        'requests': requests,
        'errors': errors,
        'error_ratio': round(errors / requests, 4) if requests else 0.0,
        'response_time': round(weighted_rtime / requests, 1) if requests else 0.0,
    }


def analyse_canary(before, after, canaries, baseline, settings):
    """The verdict of a canary analysis from two stats snapshots.

    Fails when the canaries served fewer than ``min_requests`` requests (inconclusive), when their error ratio
    exceeds the baseline's by more than ``max_5xx_ratio``, or when their mean response time exceeds
    ``max_response_time_ratio`` times the baseline's (never compared below ``response_time_floor`` ms, so
    sub-millisecond noise does not fail a canary). Returns ``{'passed', 'reasons', 'canary', 'baseline'}``.
    """
    canary = stats_delta(before, after, canaries)
    base = stats_delta(before, after, baseline)
    reasons = []
    if canary['requests'] < settings['min_requests']:
        reasons.append('inconclusive: the canary served %d requests during the analysis window, min_requests is %d'
                       % (canary['requests'], settings['min_requests']))
    if canary['requests']:
        allowed = base['error_ratio'] + settings['max_5xx_ratio']
        if canary['error_ratio'] > allowed + 1e-9:
            reasons.append('5xx ratio %.3f (%d of %d requests) is above the baseline\'s %.3f + max_5xx_ratio %.3f'
                           % (canary['error_ratio'], canary['errors'], canary['requests'], base['error_ratio'],
                              settings['max_5xx_ratio']))
        reference = max(base['response_time'], settings['response_time_floor'])
        limit = reference * settings['max_response_time_ratio']
        if canary['response_time'] > limit:
            reasons.append('mean response time %.1f ms is above %.1f ms (max_response_time_ratio %s x max(baseline '
                           '%.1f ms, floor %s ms))'
                           % (canary['response_time'], limit, settings['max_response_time_ratio'],
                              base['response_time'], settings['response_time_floor']))
    return {'passed': not reasons, 'reasons': reasons, 'canary': canary, 'baseline': base}

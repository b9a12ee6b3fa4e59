# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet engine: roll a fleet from one image to the next without touching a running instance.

``FleetEngine`` works through the provider ports (``provider/ports.py``): ``Compute`` (instances), ``Traffic``
(the load balancer and its members), ``Records`` (lock and history), all three in the ``Provider``, and a
``Probe``, the health check of an instance (the controller's GET on its published port unless the provider has
its own). Everything it does to a fleet is one of: create, start, stop or remove an instance; add, drain,
re-weight or remove a load-balancer member.

The building blocks are public so heal and drift reuse them under the same lock:

- ``observe()`` and ``classify()``: what runs, what serves, what is left over;
- ``locked()``: the per-fleet lock (a dead holder on this host is taken over, ``break_lock`` breaks any);
- ``bring_in()`` = ``provision()`` + ``gate()`` + ``admit()``, ``retire()``, ``monitor()``, ``normalize()``.

A rollout: plan (check mode stops here) -> lock -> history entry ``in_progress`` -> load balancer -> normalize
(clean up after an interrupted run) -> strategy (rolling, blue_green, canary) -> prune stopped instances ->
history ``succeeded``. Any failure rolls back to the revision that served before (history ``rolled_back``, or
``failed`` when even that failed) and raises FleetError with the events so far.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import contextlib
import datetime
from concurrent.futures import ThreadPoolExecutor
import os
import socket
import time
import uuid

from ansible_collections.immutable.infra.plugins.module_utils import catalog_resolve
from ansible_collections.immutable.infra.plugins.module_utils.catalog_resolve import (
    FAILED, STATUSES, UNVERIFIED, VERIFIED, ResolveError, image_status,
)
from ansible_collections.immutable.infra.plugins.module_utils.fleet import (
    NORMAL_WEIGHT, FleetError, analyse_canary, canary_weights, check_capabilities, plan_rolling, rolling_limits,
)
from ansible_collections.immutable.infra.plugins.module_utils.images import ImageStoreError
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    LB_ROLL, RUNNING, STOPPED, Instance, LockHeld, ProviderError, TrafficError, describe_holder, provider_name,
)
# http_status: the controller's GET, the default probe (re-exported here, where callers have always found it).
from ansible_collections.immutable.infra.plugins.module_utils.provider.ports import (  # noqa: F401
    HttpProbe, http_status,
)

OUTCOMES = ('in_progress', 'succeeded', 'rolled_back', 'failed', 'interrupted')
HEALTH_FALL = 3
# A canary that already failed on this many requests is judged before the end of its window.
EARLY_VERDICT_REQUESTS = 20


class StepFailed(Exception):
    """A rollout step failed: the engine rolls back. ``detail`` holds data for the report (canary analysis)."""

    def __init__(self, msg, detail=None):
        super(StepFailed, self).__init__(msg)
        self.detail = detail


def in_parallel(func, items, workers=8):
    """``func(item)`` for every item on a few threads (engine calls wait on I/O); results in order. The first
    exception is raised once every call has finished."""
    items = list(items)
    if len(items) <= 1:
        return [func(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        futures = [pool.submit(func, item) for item in items]
    results, error = [], None
    for future in futures:
        try:
            results.append(future.result())
        except Exception as exc:  # pylint: disable=broad-except
            results.append(None)
            error = error or exc
    if error is not None:
        raise error
    return results


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _proc_stat(pid):
    """Fields 3 and on of /proc/PID/stat (state first), or [] when unreadable."""
    try:
        with open('/proc/%d/stat' % int(pid)) as handle:
            data = handle.read()
    except (OSError, ValueError):
        return []
    # The command name (field 2) may hold spaces; it ends at the last ')'.
    return data[data.rfind(')') + 2:].split()


def process_start(pid):
    """Start time of process ``pid`` in clock ticks since boot (field 22 of /proc/PID/stat), or ''."""
    fields = _proc_stat(pid)
    return fields[19] if len(fields) > 19 else ''


def holder_alive(holder, hostname):
    """True / False when we can tell whether the lock holder process lives (same host), None otherwise."""
    if not holder or holder.get('host') != hostname:
        return None
    try:
        pid = int(holder.get('pid'))
    except (TypeError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except OSError as exc:
        if getattr(exc, 'errno', None) == 3:  # ESRCH: no such process
            return False
    fields = _proc_stat(pid)
    if fields and fields[0] in ('Z', 'X'):
        return False  # killed, not yet reaped
    start = fields[19] if len(fields) > 19 else ''
    if holder.get('pid_start') and start and start != holder['pid_start']:
        return False  # the pid was reused by another process
    return True


# How a rollout words a reference it cannot roll out (see ``catalog_resolve.REASONS`` for the facts).
RESOLVE_WORDS = {
    'no_channel': 'channel %(channel)s of %(name)s does not exist: there is no image tagged %(ref)s (promote a '
                  'version to it with image_channel, or give -e version=X.Y.Z)',
    'no_version': 'there is no image %(ref)s on the engine: bake it first (ansible-playbook playbooks/bake.yml '
                  '-e image=%(name)s -e version=%(version)s)',
    FAILED: '%(name)s %(version)s failed its image tests (tagged %(failed_ref)s) and is not rolled out; bake a '
            'fixed version (require_verified: false accepts it, for a deliberate fault-injection drill only)',
    UNVERIFIED: '%(ref)s (%(id)s) is not verified: its image tests have not passed, so it is not rolled out (bake '
                'it with playbooks/bake.yml, or set require_verified: false)',
}


def resolve_image(store, name, version=None, channel=None, require_verified=True):
    """The image a fleet runs, from a version or a channel: ``{image, version, id, ref, channel}``, and a
    ``warning`` when it is not verified (``require_verified`` false takes unverified and failed images too).

    Raises FleetError saying what is missing and how to get it.
    """
    try:
        record, ref = catalog_resolve.resolve_image(store, name, version, channel,
                                                    accept=(VERIFIED,) if require_verified else STATUSES)
    except ResolveError as exc:
        raise FleetError(exc.message(RESOLVE_WORDS))
    except ImageStoreError as exc:
        raise FleetError(str(exc))
    result = {'image': name, 'version': record['version'], 'id': record['id'], 'ref': ref, 'channel': channel}
    status = image_status(record)
    if status != VERIFIED:
        result['warning'] = ('%s (%s) is %s: rolled out because require_verified is false'
                             % (ref, record['id'][:19], 'an image that FAILED its image tests' if status == FAILED
                                else 'not verified'))
    return result


def last_succeeded(history):
    """The newest ``succeeded`` entry of a fleet's ``history`` (oldest first): the revision it serves by its
    records. None when no rollout of it ever succeeded."""
    return next((e for e in reversed(history or []) if e.get('outcome') == 'succeeded'), None)


def running_revision(image, version, image_id, instances, default=None):
    """A rollout target of ``image_id``, an image the fleet already runs, with its ``revision``: the highest number
    among the ``instances`` of that image (``default`` when none carries one), the number new instances of it carry."""
    numbers = [i.revision for i in instances if i.image_id == image_id and i.revision]
    return {'image': image, 'version': version, 'id': image_id, 'ref': image_id, 'channel': None,
            'revision': max(numbers) if numbers else default}


class FleetState:
    """One observation of a fleet: instances, load balancer, its servers, history and lock holder."""

    def __init__(self, instances, lb, servers, history, lock):
        self.instances = instances
        self.lb = lb
        self.servers = servers
        self.history = history
        self.lock = lock

    @property
    def running(self):
        return [i for i in self.instances if i.running]

    def last_entry(self):
        return self.history[-1] if self.history else None


class Classified:
    """Instances of a fleet sorted by what a rollout to ``target`` does with them (see ``classify``)."""

    def __init__(self):
        self.target = []        # serving at the target image, at most `desired` (newest first kept)
        self.surplus = []       # serving at the target image beyond `desired`
        self.other = []         # serving another image: to replace
        self.unestablished = []  # in the load balancer but not serving normally (drain, maint, down, odd weight)
        self.orphans = []       # running but not in the load balancer
        self.adopt = []         # running while the load balancer has no server at all: put back in
        self.dead = []          # not running and not worth keeping (never started, crashed serving image)
        self.stopped = []       # stopped instances (kept for a fast rollback) of other images
        self.reusable = []      # stopped instances of the target image
        self.stray_servers = []  # load-balancer servers without a running instance

    @property
    def serving(self):
        return self.target + self.surplus + self.other


def established(server):
    """A load-balancer server that serves normally: ready, up, at the normal weight."""
    return bool(server) and server.get('admin') == 'ready' and server.get('up') and \
        server.get('weight') == NORMAL_WEIGHT


def classify(state, target_id, service_port, desired, current_image=None):
    """Sort the instances of ``state`` for a rollout to image ``target_id`` (pure function).

    ``current_image`` is the image to put back in service when the load balancer lost all its servers
    (restarted or recreated); without it, the image of the newest running instance is used.
    """
    out = Classified()
    running = [i for i in state.instances if i.running]
    names = set(i.name for i in running)
    servers = state.servers or {}
    out.stray_servers = sorted(n for n in servers if n not in names)

    def matches(inst):
        return inst.image_id == target_id and inst.service_port == service_port

    if running and not servers:
        images = set(i.image_id for i in running)
        adopt_image = current_image if current_image in images else max(running, key=Instance.age_key).image_id
        out.adopt = [i for i in running if i.image_id == adopt_image]
        out.orphans = [i for i in running if i.image_id != adopt_image]
    else:
        for inst in sorted(running, key=Instance.age_key, reverse=True):
            server = servers.get(inst.name)
            if server is None:
                out.orphans.append(inst)
            elif not established(server):
                out.unestablished.append(inst)
            elif matches(inst):
                (out.target if len(out.target) < desired else out.surplus).append(inst)
            else:
                out.other.append(inst)
        out.other.sort(key=Instance.age_key)
        out.surplus.sort(key=Instance.age_key)
    serving_images = set(i.image_id for i in out.target + out.surplus + out.other + out.adopt)
    for inst in state.instances:
        if inst.running:
            continue
        if inst.state != STOPPED or inst.image_id in serving_images:
            # Never started, failed (crashed), or a stopped copy of an image that serves: replaced, never restarted.
            out.dead.append(inst)
        elif matches(inst):
            out.reusable.append(inst)
        else:
            out.stopped.append(inst)
    return out


def keep_stopped(stopped, keep_revisions):
    """Split stopped instances into (kept, removed): the newest ``keep_revisions`` images are kept."""
    groups = {}
    for inst in stopped:
        groups.setdefault(inst.image_id, []).append(inst)
    ranked = sorted(groups.values(), key=lambda g: max(i.revision for i in g), reverse=True)
    kept = [i for group in ranked[:keep_revisions] for i in group]
    removed = [i for group in ranked[keep_revisions:] for i in group]
    return kept, removed


class FleetEngine:
    """Rollouts, rollbacks and the building blocks heal and drift reuse, for one fleet.

    ``spec`` is a resolved fleet spec (``fleet.resolve_spec``). ``probe`` is the health check of an instance (a
    ``ports.Probe``; default: the provider's own, else the controller's GET, ``ports.HttpProbe``); ``http`` a
    function ``(host, port, path, timeout) -> (status, error)`` to use as the controller's GET instead. ``sleep``,
    ``clock`` and ``now`` are injectable for tests.
    """

    def __init__(self, provider, fleet, spec=None, http=None, sleep=time.sleep, clock=time.monotonic,
                 now=utcnow, probe=None, hostname=None, pid=None):
        self.provider = provider
        self.fleet = fleet
        self.spec = spec
        if probe is None and http is None:
            probe = provider.probe()
        self.probe = probe or HttpProbe(http or http_status)
        # The health check every building block asks: (status, error) of one instance.
        self.http = self.probe.check
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.hostname = hostname or socket.gethostname()
        self.pid = pid or os.getpid()
        self.events = []
        self.warnings = []
        self.analysis = None
        self._t0 = clock()
        self._initial_serving = set()
        self.lock_broken = False
        self._watched = {}

    # Reporting ------------------------------------------------------------------------------------------
    def log(self, message):
        self.events.append({'t': round(self.clock() - self._t0, 1), 'event': message})

    def warn(self, message):
        self.warnings.append(message)
        self.log('warning: ' + message)

    # Observation --------------------------------------------------------------------------------------------
    def running_lb(self, lb=None):
        """The fleet's load balancer (``lb``, else the provider's) when its members can be read and changed, else
        None (there is none, or it does not run)."""
        if lb is None:
            lb = self.provider.load_balancer(self.fleet)
        return lb if self.provider.reachable(lb) else None

    def observe(self):
        instances = self.provider.instances(self.fleet)
        lb = self.provider.load_balancer(self.fleet)
        servers = {}
        if self.running_lb(lb) is not None:
            try:
                servers = self.provider.members(lb)
            except TrafficError as exc:
                raise FleetError('the load balancer %s of fleet %s is running but its runtime API does not answer '
                                 '(%s); look at its logs (docker logs %s)' % (lb.name, self.fleet, exc, lb.name))
        return FleetState(instances, lb, servers, self.provider.read_history(self.fleet),
                          self.provider.lock_holder(self.fleet))

    def current_image(self, state):
        """Image ID of the last succeeded revision, or None."""
        entry = last_succeeded(state.history)
        return entry.get('image_id') if entry else None

    def classify(self, state, target):
        return classify(state, target['id'], self.spec['service_port'], self.spec['instances'],
                        self.current_image(state))

    # Lock -------------------------------------------------------------------------------------------------
    def lock_message(self, holder, alive):
        hint = ('wait for it to finish' if alive else
                'if that process is gone for good (for example a controller on another host that died), rerun '
                'with break_lock=true (-e break_lock=true)')
        if alive:
            hint += '; if it is stuck, stop it or rerun with break_lock=true (-e break_lock=true)'
        return ('fleet %s is locked by %s: another rollout, rollback or heal is changing it. Nothing was '
                'changed. To go on: %s.' % (self.fleet, describe_holder(holder), hint))

    def check_lock(self, holder, break_lock):
        """Fail fast (before planning) when a live process holds the lock."""
        if holder and not break_lock and holder_alive(holder, self.hostname) is not False:
            raise FleetError(self.lock_message(holder, holder_alive(holder, self.hostname)))

    @contextlib.contextmanager
    def locked(self, operation, break_lock=False, image_id=None):
        """Hold the fleet's lock for the body; a lock whose holder died on this host is taken over. ``image_id``:
        the image the operation rolls to, recorded in the lock (prune keeps it from the moment the lock exists)."""
        holder = {
            'host': self.hostname,
            'pid': str(self.pid),
            'pid_start': process_start(self.pid),
            'started': self.now(),
            'operation': operation,
            'token': uuid.uuid4().hex,
        }
        if image_id:
            holder['image_id'] = image_id
        try:
            self.provider.acquire_lock(self.fleet, holder)
        except LockHeld as exc:
            alive = holder_alive(exc.holder, self.hostname)
            if not break_lock and alive is not False:
                raise FleetError(self.lock_message(exc.holder, alive))
            self.warn('broke the lock of fleet %s held by %s (%s)' % (
                self.fleet, describe_holder(exc.holder),
                'break_lock=true' if break_lock else 'that process no longer exists'))
            self.provider.release_lock(self.fleet)
            self.lock_broken = True
            try:
                self.provider.acquire_lock(self.fleet, holder)
            except LockHeld as again:
                raise FleetError(self.lock_message(again.holder, holder_alive(again.holder, self.hostname)))
        self.log('locked fleet %s (%s)' % (self.fleet, operation))
        try:
            yield holder
        finally:
            self.provider.release_lock(self.fleet, token=holder['token'])
            self.log('released the lock of fleet %s' % self.fleet)

    # Building blocks ----------------------------------------------------------------------------------------
    def lb_check(self):
        """HAProxy's health check of every server: the fleet's path, status, interval and threshold, and
        ``HEALTH_FALL`` failures to go down."""
        health = self.spec['health']
        return {'inter': health['interval'], 'rise': health['healthy_threshold'], 'fall': HEALTH_FALL,
                'path': health['path'], 'status': health['status']}

    def lb_health(self):
        """The ``LoadBalancer.health`` a load balancer created for this spec has: ``"STATUS PATH"``."""
        return '%s %s' % (self.spec['health']['status'], self.spec['health']['path'])

    def answering(self, instances):
        """The ``instances`` that answer the controller's health check now (one check each, in parallel)."""
        health = self.spec['health']

        def ok(inst):
            if not inst.endpoint:
                return False
            status, dummy = self.http(inst.endpoint[0], inst.endpoint[1], health['path'], health['timeout'])
            return status == health['status']

        return [i for i, good in zip(instances, in_parallel(ok, instances)) if good]

    def lb_members(self):
        """What a new load balancer starts with: the running instances of the fleet's current revision (the
        newest succeeded history entry) that answer their health check now."""
        history = self.provider.read_history(self.fleet)
        current = self.current_image(FleetState([], None, {}, history, None))
        if current is None:
            return []
        running = [i for i in self.provider.instances(self.fleet) if i.running and i.image_id == current]
        return self.answering(running)

    def ensure_lb(self, lb_image, members=None):
        """Start the fleet's load balancer when it is missing or not running, and wait for its runtime API.

        A new load balancer is seeded with ``members`` (default ``lb_members()``): they are in its backend from
        its first request, so it never takes traffic it has no server for."""
        lb = self.provider.load_balancer(self.fleet)
        if lb is not None and not lb.running:
            self.log('load balancer %s is %s: replacing it' % (lb.name, lb.state))
            self.provider.remove_load_balancer(self.fleet)
            lb = None
        created = lb is None
        if created:
            members = self.lb_members() if members is None else list(members)
            missing = [i.name for i in members if not i.address]
            if missing:
                raise StepFailed('instance %s has no address on the fleet network' % ', '.join(missing))
            servers = [{'name': i.name, 'address': i.address[0], 'port': i.address[1], 'weight': NORMAL_WEIGHT}
                       for i in members]
            lb = self.provider.create_load_balancer(self.fleet, lb_image['id'], lb_image['version'],
                                                    self.spec['listen_host'], self.spec['listen_port'],
                                                    servers=servers, check=self.lb_check())
            self.log('created load balancer %s (lb %s) on %s%s' % (
                lb.name, lb_image['version'], self.spec['listen'],
                ' serving %s from the start' % ', '.join(i.name for i in members) if members else ''))
        if self.running_lb(lb) is None:
            raise FleetError('the load balancer of fleet %s has no published runtime API port' % self.fleet)
        self.provider.wait_ready(lb, timeout=20, sleep=self.sleep, clock=self.clock)
        return lb

    def provision(self, target, revision, count, reuse=True):
        """``count`` running instances of ``target``: stopped ones of that image are started first (kept by
        a blue/green rollout for a fast rollback) unless ``reuse`` is false (a heal never restarts an old
        instance), the rest are created."""
        if count <= 0:
            return []
        brought = []
        failures = []

        def start(inst):
            try:
                started = self.provider.start_instance(inst)
                brought.append(started)
                self.log('started kept instance %s (%s)' % (started.name, started.version))
            except ProviderError as exc:
                failures.append(exc)

        def create(dummy):
            try:
                created = self.provider.create_instance(self.fleet, target['id'], target['version'], revision,
                                                        self.spec['service_port'])
                brought.append(created)
                self.log('created instance %s (%s, revision %s)' % (created.name, created.version, revision))
            except ProviderError as exc:
                failures.append(exc)

        reused = []
        if reuse:
            try:
                reusable = [i for i in self.provider.instances(self.fleet)
                            if i.state == STOPPED and i.image_id == target['id']
                            and i.service_port == self.spec['service_port']]
            except ProviderError as exc:
                raise StepFailed(str(exc))
            reused = sorted(reusable, key=Instance.age_key, reverse=True)[:count]
        in_parallel(start, reused)
        in_parallel(create, range(count - len(reused)))
        if failures:
            self.discard(brought)
            raise StepFailed(str(failures[0]))
        return sorted(brought, key=lambda i: i.name)

    def gate(self, instances):
        """Health gate: every instance answers GET <path> with the expected status ``healthy_threshold`` times
        in a row, the controller asking on its published port, within ``start_period``."""
        if not instances:
            return
        health = self.spec['health']
        need = health['healthy_threshold']
        deadline = self.clock() + health['start_period'] + need * health['interval'] + health['timeout']
        streak = dict((i.name, 0) for i in instances)
        last = {}
        pending = list(instances)
        while True:
            trouble = False
            for inst in list(pending):
                if not inst.endpoint:
                    raise StepFailed('instance %s has no published service port' % inst.name)
                status, error = self.http(inst.endpoint[0], inst.endpoint[1], health['path'], health['timeout'])
                if status == health['status']:
                    streak[inst.name] += 1
                else:
                    streak[inst.name] = 0
                    trouble = trouble or status is None
                last[inst.name] = status if status is not None else error
                if streak[inst.name] >= need:
                    pending.remove(inst)
            if not pending:
                break
            if trouble:
                states = dict((i.name, i) for i in self.provider.instances(self.fleet))
                for inst in pending:
                    now = states.get(inst.name)
                    if now is None or not now.running:
                        raise StepFailed('health gate: instance %s (%s) is %s, not running'
                                         % (inst.name, inst.version, now.describe_state() if now else 'gone'))
            if self.clock() >= deadline:
                inst = pending[0]
                raise StepFailed('health gate: instance %s (%s) did not answer GET %s with %d %d time(s) in a row '
                                 'within %ss; last answer: %s'
                                 % (inst.name, inst.version, health['path'], health['status'], need,
                                    health['start_period'], last.get(inst.name)))
            # The previous step's monitor window is still open while these instances come up.
            self.check_watched()
            # Until an instance first answers right, ask again soon; then once per interval.
            started = any(streak[i.name] for i in pending)
            self.sleep(health['interval'] if started else min(health['interval'], 0.25))
        self.log('health gate passed: %s' % ', '.join(i.name for i in instances))

    def admit(self, instances, weight=NORMAL_WEIGHT):
        """Add instances to the load balancer at ``weight`` (0 stages them without traffic), with HAProxy's own
        health checks, and wait until HAProxy sees them up."""
        if not instances:
            return
        lb = self.running_lb()
        if lb is None:
            raise StepFailed('the load balancer of fleet %s is not running' % self.fleet)
        health = self.spec['health']
        missing = [i.name for i in instances if not i.address]
        if missing:
            raise StepFailed('instance %s has no address on the fleet network' % missing[0])
        try:
            self.provider.add_members(lb, [{'name': i.name, 'address': i.address[0], 'port': i.address[1]}
                                           for i in instances], weight, self.lb_check(), sleep=self.sleep)
            deadline = self.clock() + (health['healthy_threshold'] + 1) * health['interval'] + 5
            while True:
                servers = self.provider.members(lb)
                down = [i.name for i in instances if not (servers.get(i.name) or {}).get('up')]
                if not down:
                    break
                if self.clock() >= deadline:
                    raise StepFailed('the load balancer does not see %s up (check: %s)' % (
                        ', '.join(down), ', '.join(str((servers.get(n) or {}).get('check_status')) for n in down)))
                self.sleep(0.2)
        except TrafficError as exc:
            raise StepFailed(str(exc))
        self.log('into the load balancer at weight %d: %s' % (weight, ', '.join(i.name for i in instances)))

    def bring_in(self, target, revision, count, weight=NORMAL_WEIGHT, reuse=True):
        """provision + gate + admit; what was brought in is removed again when a step fails."""
        instances = self.provision(target, revision, count, reuse=reuse)
        try:
            self.gate(instances)
            self.admit(instances, weight)
        except StepFailed:
            self.discard(instances)
            raise
        return instances

    def remove_member(self, name, lb=None):
        """Take ``name`` out of the running load balancer for good (``Traffic.remove_member``)."""
        self.provider.remove_member(lb or self.running_lb(), name, sleep=self.sleep)

    def retire(self, instances, keep=False):
        """Take instances out of service: drain in the load balancer (up to ``drain_timeout`` for their
        sessions to end), maint, delete the server; then stop them (``keep``) or remove them."""
        if not instances:
            return
        for inst in instances:
            self._watched.pop(inst.name, None)
        lb = self.running_lb()
        try:
            in_lb = self.provider.drain(lb, [i.name for i in instances]) if lb else []
            if in_lb:
                deadline = self.clock() + self.spec['drain_timeout']
                while True:
                    stats = self.provider.counters(lb)
                    busy = [n for n in in_lb if (stats.get(n) or {}).get('scur', 0) > 0]
                    if not busy:
                        break
                    if self.clock() >= deadline:
                        self.log('drain timeout (%ss): %s still had sessions'
                                 % (self.spec['drain_timeout'], ', '.join(busy)))
                        break
                    self.sleep(0.2)
                for name in in_lb:
                    self.remove_member(name, lb)
                self.log('out of the load balancer: %s' % ', '.join(in_lb))
        except TrafficError as exc:
            raise StepFailed(str(exc))

        def finish(inst):
            if inst.running:
                self.provider.stop_instance(inst, self.spec['stop_timeout'] if keep else 2)
            if not keep:
                self.provider.remove_instance(inst)

        try:
            in_parallel(finish, instances)
        except ProviderError as exc:
            raise StepFailed(str(exc))
        self.log('%s: %s' % ('stopped (kept)' if keep else 'removed', ', '.join(i.name for i in instances)))

    def discard(self, instances):
        """Remove instances that failed to come in (best effort, used while already failing)."""
        try:
            self.retire(instances, keep=False)
        except (StepFailed, ProviderError) as exc:
            self.warn('could not remove %s: %s' % (', '.join(i.name for i in instances), exc))

    # Monitor windows: instances a step brought in are watched for ``seconds`` from their admission. The next
    # step does not wait for a window to close (as Swarm's update monitor), but every look at the open windows
    # (at each step, and while the next instances are health-gated) fails the rollout when a watched instance
    # is down in the load balancer, went down since it was admitted, or stopped running; the rollout ends only
    # when the last window has closed.
    def watch(self, instances, seconds):
        """Open a monitor window of ``seconds`` for ``instances`` (already in the load balancer)."""
        if not instances:
            return
        lb = self.running_lb()
        if lb is None:
            raise StepFailed('the load balancer of fleet %s is not running' % self.fleet)
        try:
            stats = self.provider.counters(lb)
        except TrafficError as exc:
            raise StepFailed(str(exc))
        now = self.clock()
        for inst in instances:
            self._watched[inst.name] = {'until': now + seconds, 'seconds': seconds, 'since': now,
                                        'endpoint': inst.endpoint, 'next_check': now,
                                        'chkdown': (stats.get(inst.name) or {}).get('chkdown', 0)}

    def check_watched(self):
        """One look at every open monitor window; windows whose time is up close (their instances must still
        run). Raises StepFailed on the first failure."""
        if not self._watched:
            return
        lb = self.running_lb()
        if lb is None:
            raise StepFailed('monitor: the load balancer of fleet %s is not running' % self.fleet)
        try:
            servers = self.provider.members(lb)  # with the counters, chkdown included
        except TrafficError as exc:
            raise StepFailed(str(exc))
        names = sorted(self._watched)
        down = [n for n in names if not (servers.get(n) or {}).get('up')]
        if down:
            raise StepFailed('monitor: %s went down in the load balancer (check: %s)' % (
                ', '.join(down), ', '.join(str((servers.get(n) or {}).get('check_status')) for n in down)))
        flapped = [n for n in names if (servers.get(n) or {}).get('chkdown', 0) > self._watched[n]['chkdown']]
        if flapped:
            raise StepFailed('monitor: %s went down in the load balancer and came back during the window'
                             % ', '.join(flapped))
        now = self.clock()
        closing = [n for n in names if self._watched[n]['until'] <= now]
        # HAProxy needs `fall` failed checks in a row to mark a server down, which can take longer than the
        # window: the controller asks every watched instance itself, once per health interval and once more
        # as its window closes, so a failure that starts anywhere inside the window is seen.
        self._check_watched_health([n for n in names if n in closing or self._watched[n]['next_check'] <= now],
                                   now)
        if not closing:
            return
        states = dict((i.name, i.state) for i in self.provider.instances(self.fleet))
        stopped = [n for n in closing if states.get(n) != RUNNING]
        if stopped:
            raise StepFailed('monitor: %s stopped running' % ', '.join(stopped))
        by_seconds = {}
        for name in closing:
            by_seconds.setdefault(self._watched.pop(name)['seconds'], []).append(name)
        for seconds, closed in sorted(by_seconds.items()):
            if seconds > 0:
                self.log('monitor %ss: %s healthy' % (seconds, ', '.join(closed)))

    def _check_watched_health(self, names, now):
        health = self.spec['health']
        for name in names:
            window = self._watched[name]
            window['next_check'] = now + health['interval']
            if not window['endpoint']:
                raise StepFailed('monitor: instance %s has no published service port' % name)
            status, error = self.http(window['endpoint'][0], window['endpoint'][1], health['path'],
                                      health['timeout'])
            if status != health['status']:
                raise StepFailed('monitor: %s answered GET %s with %s (expected %d) %.1fs after it joined the load '
                                 'balancer' % (name, health['path'], status if status is not None else error,
                                               health['status'], now - window['since']))

    def wait_watched(self):
        """Wait until every open monitor window has closed, looking at them twice a second."""
        while True:
            self.check_watched()
            if not self._watched:
                return
            remaining = min(w['until'] for w in self._watched.values()) - self.clock()
            self.sleep(min(0.5, max(remaining, 0.05)))

    def monitor(self, instances, seconds):
        """Watch ``instances`` for ``seconds`` and wait for the end of every open window."""
        self.watch(instances, seconds)
        self.wait_watched()

    def normalize(self, target):
        """Clean up what an interrupted run left, so a strategy starts from serving instances only.

        Stray load-balancer servers are deleted; instances that are in the load balancer without serving
        normally (drained, staged, a canary, down) and running instances outside it are retired; instances
        that never started or crashed are removed. When the load balancer lost every server (restarted), the
        running instances of the current revision are health-gated and put back first.
        """
        state = self.observe()
        c = self.classify(state, target)
        lb = self.running_lb(state.lb)
        try:
            for name in c.stray_servers:
                self.remove_member(name, lb)
                self.log('deleted stray load-balancer server %s' % name)
        except TrafficError as exc:
            raise StepFailed(str(exc))
        if c.adopt:
            self.log('the load balancer has no servers: putting back %s' % ', '.join(i.name for i in c.adopt))
            self.gate(c.adopt)
            self.admit(c.adopt)
            # Watched like the instances of any step: the strategy's next looks and its end see a failure.
            self.watch(c.adopt, self.spec['monitor'])
        if c.unestablished or c.orphans:
            self.log('taking out instances not in normal service (left by an interrupted or failed step): %s'
                     % ', '.join(i.name for i in c.unestablished + c.orphans))
            self.retire(c.unestablished + c.orphans, keep=False)
        if c.dead:
            self.retire(c.dead, keep=False)

    def prune_stopped(self, target):
        """Remove stopped instances beyond the newest ``keep_revisions`` images (and any of the target)."""
        state = self.observe()
        c = self.classify(state, target)
        dummy, removed = keep_stopped(c.stopped, self.spec['blue_green']['keep_revisions'])
        removed += c.reusable + c.dead
        if removed:
            self.retire(removed, keep=False)

    # Strategies ---------------------------------------------------------------------------------------------
    # A strategy turns a classified fleet into a list of steps (``strategy_steps``, what check mode
    # shows); ``run_steps`` executes that list. A step is one of:
    #   rolling    {retire_first: [names], create: N, retire: [names]}
    #   blue_green {create: N, switch: true, retire: [names], keep_stopped: bool}
    #   canary     {create: N, canary_weight: W, canary_share: %, analysis_window: s} (then rolling steps)
    # Before every step (and once after the last) the fleet must still be what the plan expects: the old
    # instances the remaining steps retire serve, and so do the target's instances (those that served at the
    # start and those brought in so far). When it is not (an instance died, someone else changed the fleet) the
    # remaining steps are planned again from a fresh observation with the same strategy code, and the run
    # records it (``replanned``).
    @staticmethod
    def _split(c, target):
        """``(at_target, others)``: the serving (or adopted) instances of a classification at the target image
        and those of other images."""
        serving = c.serving + c.adopt
        at_target = [i for i in c.target + c.adopt if i.image_id == target['id']]
        others = [i for i in serving if i.image_id != target['id']]
        return at_target, others

    def strategy_steps(self, c, target, strategy, surge, unavailable, keep_old=True):
        """``(effective strategy, steps)`` that take the classified fleet ``c`` to ``target`` (pure: no call to
        the provider). ``keep_old``: a blue/green switch keeps the old set stopped (``keep_revisions``)."""
        spec = self.spec
        at_target, others = self._split(c, target)
        old_names = [i.name for i in sorted(others, key=Instance.age_key)] + [i.name for i in c.surplus]
        effective = strategy
        steps = []
        new_count = len(at_target)
        if strategy == 'canary' and not others:
            effective = 'rolling'
        if effective == 'blue_green':
            create = max(0, spec['instances'] - new_count)
            steps.append({'create': create, 'switch': True, 'retire': old_names,
                          'keep_stopped': bool(old_names) and keep_old and spec['blue_green']['keep_revisions'] > 0})
            return effective, steps
        if effective == 'canary':
            canaries = max(0, spec['canary']['canary_instances'] - new_count)
            if canaries:
                weight, share = canary_weights(len(others), canaries, spec['canary']['canary_weight'])
                steps.append({'create': canaries, 'canary_weight': weight, 'canary_share': share,
                              'analysis_window': spec['canary']['analysis_window']})
                new_count += canaries
        pending = list(old_names)
        for retire_first, create, retire_after in plan_rolling(len(old_names), new_count, spec['instances'],
                                                               surge, unavailable):
            steps.append({'retire_first': pending[:retire_first], 'create': create,
                          'retire': pending[retire_first:retire_first + retire_after]})
            del pending[:retire_first + retire_after]
        return effective, steps

    def expected_of(self, c, target):
        """What the steps planned from classification ``c`` expect to find before their first step:
        ``(old, new)``, the names of the serving instances they retire and of those at the target."""
        at_target, others = self._split(c, target)
        return set(i.name for i in others + c.surplus), set(i.name for i in at_target)

    def deviation(self, state, c, old, new):
        """Why the fleet (``state`` classified as ``c``) is not what the remaining steps expect, or None: ``old``
        are the names of the instances they retire, ``new`` those of the target that must serve."""
        if state.lb is None or not state.lb.running:
            raise StepFailed('the load balancer of fleet %s is not running' % self.fleet)
        states = dict((i.name, i) for i in state.instances)
        unestablished = set(i.name for i in c.unestablished)

        def how(name):
            if name not in states:
                return '%s is gone' % name
            if not states[name].running:
                return '%s is %s' % (name, states[name].describe_state())
            return '%s is %s' % (name, 'out of normal service in the load balancer' if name in unestablished
                                 else 'not in the load balancer')

        old_now = set(i.name for i in c.other + c.surplus)
        new_now = set(i.name for i in c.target)
        reasons = []
        gone = sorted(old - old_now)
        if gone:
            reasons.append('instance(s) to retire no longer serve (%s)' % ', '.join(how(n) for n in gone))
        lost = sorted(new - new_now)
        if lost:
            reasons.append('instance(s) of the target no longer serve (%s)' % ', '.join(how(n) for n in lost))
        extra = sorted((old_now - old) | (new_now - new))
        if extra:
            reasons.append('instance(s) the plan does not know serve (%s)' % ', '.join(extra))
        return '; '.join(reasons) or None

    def run_steps(self, steps, target, revision, replan, expected, executed, replanned):
        """Execute ``steps`` in order for a rollout to ``target``; ``expected`` is ``expected_of`` the state they
        were planned from, ``replan()`` gives ``(steps, expected)`` from a fresh observation. Every step run is
        appended to ``executed`` (with the names of the ``instances`` it brought in), every re-plan to
        ``replanned``. Returns when the last monitor window has closed."""
        steps = list(steps)
        old, new = set(expected[0]), set(expected[1])
        limit = max(5, self.spec['instances'])
        index = replans = 0
        while True:
            # The windows of the steps before are open: a fault in them fails the rollout (no re-plan).
            self.check_watched()
            state = self.observe()
            c = self.classify(state, target)
            reason = self.deviation(state, c, old, new)
            if reason:
                if replans >= limit:
                    raise StepFailed('the fleet kept changing during the rollout (re-planned %d times; last: %s)'
                                     % (limit, reason))
                self.log('before steps[%d]: %s: planning the remaining steps again' % (index, reason))
                rest, (old, new) = replan()
                old, new = set(old), set(new)
                replans += 1
                replanned.append({'step': index, 'reason': reason, 'steps': rest})
                steps = steps[:index] + list(rest)
                continue
            if index >= len(steps):
                break
            step = steps[index]
            by_name = dict((i.name, i) for i in c.other + c.surplus)
            if step.get('switch'):
                brought = self._run_blue_green_step(step, target, revision, c, by_name)
            elif 'canary_weight' in step:
                brought = self._run_canary_step(step, target, revision, c)
            else:
                brought = self._run_rolling_step(step, target, revision, by_name)
            old -= set(step.get('retire_first', [])) | set(step.get('retire', []))
            new |= set(i.name for i in brought)
            executed.append(dict(step, instances=[i.name for i in brought]))
            index += 1
        self.wait_watched()

    def _run_rolling_step(self, step, target, revision, by_name):
        self.retire([by_name[n] for n in step['retire_first']])
        created = self.bring_in(target, revision, step['create'])
        self.retire([by_name[n] for n in step['retire']])
        # This step's window runs while the next step's instances are created and health-gated.
        self.watch(created, self.spec['monitor'])
        return created

    def switch(self, staged, old, keep_old):
        """Blue/green switch in one step (``Traffic.switch``): staged instances to full weight, old to drain."""
        try:
            self.provider.switch(self.running_lb(), dict((i.name, NORMAL_WEIGHT) for i in staged),
                                 [i.name for i in old])
        except TrafficError as exc:
            raise StepFailed(str(exc))
        self.log('switched the load balancer to %s' % ', '.join(i.name for i in staged) if staged else
                 'load balancer: old instances drained')
        self.retire(old, keep=keep_old)

    def _run_blue_green_step(self, step, target, revision, c, by_name):
        old = [by_name[n] for n in step['retire']]
        staged = self.bring_in(target, revision, step['create'], weight=0)
        if staged or old:
            self.switch(staged, old, step['keep_stopped'])
        self.monitor(c.target + staged, self.spec['monitor'])
        return staged

    def _run_canary_step(self, step, target, revision, c):
        settings = self.spec['canary']
        baseline = c.other
        weight, share = step['canary_weight'], step['canary_share']
        canaries = self.bring_in(target, revision, step['create'], weight=weight)
        self.log('canary: %s at weight %d (%.1f%% of the traffic) next to %d baseline instance(s)'
                 % (', '.join(i.name for i in canaries), weight, share, len(baseline)))
        analysis = self.analyse(canaries, baseline, settings)
        analysis['weight'] = weight
        analysis['share'] = share
        self.analysis = analysis
        if not analysis['passed']:
            raise StepFailed('canary analysis failed: %s' % '; '.join(analysis['reasons']), analysis)
        try:
            self.provider.set_weights(self.running_lb(), dict((i.name, NORMAL_WEIGHT) for i in canaries))
        except TrafficError as exc:
            raise StepFailed(str(exc))
        self.log('canary passed (%d requests, 5xx ratio %.3f vs %.3f): promoted to full weight' % (
            analysis['canary']['requests'], analysis['canary']['error_ratio'],
            analysis['baseline']['error_ratio']))
        self.watch(canaries, self.spec['monitor'])
        return canaries

    def analyse(self, canaries, baseline, settings):
        """Watch the canaries for ``analysis_window`` seconds and judge them against the baseline."""
        lb = self.running_lb()
        names = [i.name for i in canaries]
        base_names = [i.name for i in baseline]
        started = self.clock()
        try:
            before = self.provider.counters(lb)
            deadline = started + settings['analysis_window']
            while True:
                servers = self.provider.members(lb)
                down = [n for n in names if not (servers.get(n) or {}).get('up')]
                if down:
                    result = analyse_canary(before, servers, names, base_names, settings)
                    result['passed'] = False
                    result['reasons'].insert(0, 'canary %s went down in the load balancer' % ', '.join(down))
                    return result
                # Clear evidence ends the window early: fewer users see a bad canary.
                early = analyse_canary(before, servers, names, base_names, settings)
                if not early['passed'] and early['canary']['requests'] >= max(EARLY_VERDICT_REQUESTS,
                                                                              settings['min_requests']):
                    early['decided_after'] = round(self.clock() - started, 1)
                    return early
                remaining = deadline - self.clock()
                if remaining <= 0:
                    break
                self.sleep(min(0.5, remaining))
            after = self.provider.counters(lb)
        except TrafficError as exc:
            raise StepFailed(str(exc))
        result = analyse_canary(before, after, names, base_names, settings)
        result['decided_after'] = round(self.clock() - started, 1)
        return result

    # Rollout ------------------------------------------------------------------------------------------------
    def _revision_groups(self, instances):
        groups = {}
        for inst in instances:
            group = groups.setdefault(inst.image_id, {'revision': inst.revision, 'version': inst.version,
                                                      'image_id': inst.image_id, 'instances': []})
            group['revision'] = max(group['revision'], inst.revision)
            group['instances'].append(inst.name)
        return sorted(groups.values(), key=lambda g: g['revision'])

    def _target_of(self, state, instances):
        """The image among ``instances`` that the fleet runs (the last succeeded one when several do) as a
        target dict with its revision number, or None."""
        if not instances:
            return None
        current = self.current_image(state)
        images = set(i.image_id for i in instances)
        image_id = current if current in images else max(instances, key=Instance.age_key).image_id
        version = next(i.version for i in instances if i.image_id == image_id)
        return running_revision(self.spec['image'] if self.spec else None, version, image_id, instances, default=0)

    def serving_target(self, state=None):
        """The revision that serves now, as a target (what heal replaces failed instances with), or None."""
        state = state or self.observe()
        return self._target_of(state, [i for i in state.running if established(state.servers.get(i.name))])

    def previous_of(self, state, c, target):
        """What a failed rollout rolls back to: the image serving besides the target, as a target dict with its
        revision number; None on a first deploy."""
        return self._target_of(state, list(c.other) or [i for i in c.adopt if i.image_id != target['id']])

    def next_revision(self, state):
        numbers = [e.get('number', 0) for e in state.history] + [i.revision for i in state.instances]
        return max(numbers + [0]) + 1

    def plan(self, state, target, lb_image, strategy=None):
        """What a rollout to ``target`` would do, without doing it (the check-mode answer)."""
        spec = self.spec
        strategy = strategy or spec['strategy']
        c = self.classify(state, target)
        last = state.last_entry()
        serving = c.serving + c.adopt
        at_target, others = self._split(c, target)
        if last and last.get('outcome') == 'in_progress' and last.get('image_id') == target['id']:
            history, revision = 'resume', last['number']
        elif not others and at_target:
            # What serves is the target already. When the history does not say so (the rollout that brought it
            # failed or was cut short after its last step), this run records it.
            revision = max(i.revision for i in at_target)
            history = None if self.current_image(state) == target['id'] else 'converged'
        else:
            history, revision = 'new', self.next_revision(state)

        lb_action = 'keep'
        if state.lb is None:
            lb_action = 'create'
        elif not state.lb.running:
            lb_action = 'recreate'
        elif lb_image and (state.lb.image_id != lb_image['id'] or
                           state.lb.can_roll and state.lb.health != self.lb_health()):
            # A new lb image, or a new health check of the servers (the fleet's health.path or .status).
            lb_action = 'roll'

        surge, unavailable = rolling_limits(spec)
        effective, steps = self.strategy_steps(c, target, strategy, surge, unavailable)
        old_names = [i.name for i in sorted(others, key=Instance.age_key)] + [i.name for i in c.surplus]
        create_total = sum(s.get('create', 0) for s in steps)
        reuse = [i.name for i in sorted(c.reusable, key=Instance.age_key, reverse=True)][:create_total]
        cleanup = [i.name for i in c.unestablished + c.orphans + c.dead]
        cleanup += [i.name for i in c.reusable if i.name not in reuse]
        kept, pruned = keep_stopped(c.stopped + others if effective == 'blue_green' and
                                    spec['blue_green']['keep_revisions'] > 0 else c.stopped,
                                    spec['blue_green']['keep_revisions'])
        pruned_names = [i.name for i in pruned if not i.running]
        changed = bool(create_total or old_names or cleanup or c.adopt or c.stray_servers or pruned_names
                       or lb_action != 'keep' or history in ('resume', 'converged')
                       or (last and last.get('outcome') == 'in_progress'))
        return {
            'fleet': self.fleet,
            'strategy': effective,
            'revision': revision,
            'history': history,
            'target': {'version': target['version'], 'image_id': target['id'], 'ref': target.get('ref'),
                       'channel': target.get('channel')},
            'current': self._revision_groups(serving),
            'lb': lb_action,
            'lb_version': lb_image['version'] if lb_image else None,
            'create': max(0, create_total - len(reuse)),
            'reuse': reuse,
            'retire': old_names,
            'keep_stopped': [i.name for i in kept],
            'remove': sorted(set(cleanup + pruned_names)),
            'adopt': [i.name for i in c.adopt],
            'stray_servers': c.stray_servers,
            'steps': steps,
            'changed': changed,
        }

    def diff(self, state, plan, target):
        before = ['fleet: %s' % self.fleet]
        for group in plan['current']:
            before.append('revision %s: %s (%s) x%d'
                          % (group['revision'], group['version'], group['image_id'][:19], len(group['instances'])))
            before.extend('  - %s' % name for name in group['instances'])
        after = ['fleet: %s' % self.fleet,
                 'revision %s: %s (%s) x%d' % (plan['revision'], target['version'], target['id'][:19],
                                               self.spec['instances'])]
        keep = set(n for g in plan['current'] for n in g['instances'] if n not in plan['retire'])
        after.extend('  - %s' % name for name in sorted(keep) if name not in plan['remove'])
        if plan['create'] or plan['reuse']:
            after.append('  - %d instance(s) of %s: %d new, %d restarted from the kept ones'
                         % (plan['create'] + len(plan['reuse']), target['version'], plan['create'], len(plan['reuse'])))
        if plan['keep_stopped']:
            after.append('stopped (kept for rollback): %s' % ', '.join(plan['keep_stopped']))
        return {'before': '\n'.join(before) + '\n', 'after': '\n'.join(after) + '\n'}

    def rollout(self, target, lb_image, check_mode=False, break_lock=False, strategy=None, rollback_of=None):
        """Roll the fleet to ``target`` (from ``resolve_image``). Returns the result dict; raises FleetError
        (with ``result``) when the rollout failed, after rolling back."""
        # What the strategy needs from the provider, before anything is observed or changed.
        check_capabilities(self.fleet, self.spec, provider_name(self.provider), self.provider.capabilities,
                           strategy)
        if target.get('warning'):
            self.warn(target['warning'])
        state = self.observe()
        if check_mode and state.lock and holder_alive(state.lock, self.hostname) is not False and not break_lock:
            self.warn(self.lock_message(state.lock, holder_alive(state.lock, self.hostname)))
        elif not check_mode:
            self.check_lock(state.lock, break_lock)
        self.check_lb(state.lb, lb_image)
        plan = self.plan(state, target, lb_image, strategy)
        if state.lock and holder_alive(state.lock, self.hostname) is False:
            plan['changed'] = True
            plan['stale_lock'] = state.lock
        result = self._result(plan, target, outcome='unchanged' if not plan['changed'] else 'planned')
        result['diff'] = self.diff(state, plan, target)
        if not plan['changed'] or check_mode:
            result['changed'] = plan['changed']
            return result
        operation = '%s of %s to %s (%s)' % ('rollback' if rollback_of else 'rollout', self.fleet, target['version'],
                                             plan['strategy'])
        with self.locked(operation, break_lock, target['id']):
            state = self.observe()
            self.check_lb(state.lb, lb_image)
            plan = self.plan(state, target, lb_image, strategy)
            result = self._result(plan, target, outcome='unchanged')
            result['diff'] = self.diff(state, plan, target)
            if not plan['changed']:
                result['changed'] = self.lock_broken
                return result
            return self._execute(state, plan, target, lb_image, result, rollback_of, strategy)

    def check_lb(self, lb, lb_image):
        """A new lb image is rolled in (when the provider can); a new listen address is refused."""
        if lb is None or not lb.running or lb_image is None:
            return
        listen = self.spec['listen']
        if lb.listen == listen and lb.image_id != lb_image['id'] and LB_ROLL not in self.provider.capabilities:
            raise FleetError(
                'the load balancer %s of fleet %s runs lb %s (%s), the spec asks for lb %s (%s): provider %s lacks '
                '%s (it cannot replace a running load balancer without a failed request). Nothing was changed: '
                'keep lb_version as it is, or remove the fleet (fleet_rollout state=absent) and deploy it again.'
                % (lb.name, self.fleet, lb.version, lb.image_id[:19], lb_image['version'], lb_image['id'][:19],
                   provider_name(self.provider), LB_ROLL))
        if lb.listen != listen or (lb.image_id != lb_image['id'] and not lb.can_roll):
            raise FleetError(
                'the load balancer %s of fleet %s runs lb %s (%s) on %s, the spec asks for lb %s (%s) on %s: %s. Keep '
                '%s as it is, or remove the fleet (fleet_rollout state=absent) and deploy it again.'
                % (lb.name, self.fleet, lb.version, lb.image_id[:19], lb.listen, lb_image['version'],
                   lb_image['id'][:19], listen,
                   'a rollout does not move a load balancer to another address (clients would lose it)'
                   if lb.listen != listen else 'this load balancer was created before load balancers could be rolled, '
                   'so a new lb_version would interrupt service', 'listen' if lb.listen != listen else 'lb_version'))

    def roll_lb(self, lb_image):
        """Roll the running load balancer to ``lb_image`` without a failed request: the new one starts beside
        it with the same servers (at their weights) in its backend, takes its listening socket over, and the
        old one soft-stops once the new one's runtime API answers and sees the servers up."""
        lb = self.running_lb()
        if lb is None:
            raise StepFailed('the load balancer of fleet %s is not running' % self.fleet)
        try:
            servers = self.provider.members(lb)
        except TrafficError as exc:
            raise StepFailed(str(exc))
        seeds = [{'name': n, 'address': s['addr'], 'port': s['port'], 'weight': s['weight']}
                 for n, s in sorted(servers.items()) if s.get('admin') == 'ready']
        nxt = self.provider.start_next_load_balancer(self.fleet, lb_image['id'], lb_image['version'], seeds,
                                                     self.lb_check())
        self.log('started load balancer lb %s beside the running one, serving %s' % (
            lb_image['version'], ', '.join(s['name'] for s in seeds) or 'no server'))
        try:
            self.provider.wait_ready(nxt, timeout=20, sleep=self.sleep, clock=self.clock)
            deadline = self.clock() + 10
            while True:
                seen = self.provider.members(nxt)
                down = [s['name'] for s in seeds if servers[s['name']].get('up') and not (seen.get(s['name']) or {})
                        .get('up')]
                if not down:
                    break
                if self.clock() >= deadline:
                    raise StepFailed('the new load balancer does not see %s up' % ', '.join(down))
                self.sleep(0.2)
        except TrafficError as exc:
            raise StepFailed('the new load balancer (lb %s) does not answer: %s' % (lb_image['version'], exc))
        lb = self.provider.finish_load_balancer_roll(self.fleet, self.spec['drain_timeout'] + 5)
        self.log('rolled the load balancer to lb %s (%s); the old one finished its requests and stopped'
                 % (lb_image['version'], lb.name))
        return lb

    def _result(self, plan, target, outcome):
        return {
            'changed': False,
            'fleet': self.fleet,
            'outcome': outcome,
            'strategy': plan['strategy'],
            'revision': {'number': plan['revision'], 'version': target['version'], 'image_id': target['id']},
            'plan': plan,
            'planned_steps': plan['steps'],
            'events': self.events,
            'analysis': self.analysis,
            'warnings': self.warnings,
        }

    def _write_entry(self, entry):
        history = [e for e in self.provider.read_history(self.fleet) if e.get('number') != entry['number']]
        history.append(entry)
        history.sort(key=lambda e: e.get('number', 0))
        self.provider.write_history(self.fleet, history)

    def _execute(self, state, plan, target, lb_image, result, rollback_of, strategy=None):
        spec = self.spec
        c = self.classify(state, target)
        previous = self.previous_of(state, c, target)
        revision = plan['revision']
        self._initial_serving = set(i.name for i in c.serving + c.adopt)
        entry = None
        last = state.last_entry()
        if last and last.get('outcome') == 'in_progress' and plan['history'] != 'resume':
            last = dict(last, outcome='interrupted', ended=self.now(),
                        reason='the controller stopped during this rollout; a later run took over')
            self._write_entry(last)
            self.log('revision %s was interrupted: marked interrupted' % last['number'])
        if plan['history'] == 'resume':
            entry = dict(last)
            entry['resumed'] = entry.get('resumed', 0) + 1
            self.log('resuming interrupted revision %s' % revision)
        elif plan['history'] == 'converged':
            found = [e for e in state.history if e.get('number') == revision and e.get('image_id') == target['id']]
            entry = dict(found[-1]) if found else {
                'number': revision, 'image': target['image'], 'version': target['version'], 'image_id': target['id'],
                'channel': target.get('channel'), 'strategy': plan['strategy'], 'instances': spec['instances'],
                'started': self.now(), 'previous': None, 'rollback_of': None, 'restores': target.get('restores'),
                'lb_version': lb_image['version']}
            self.log('revision %s (%s) serves but its history entry says %s: recording it' % (
                revision, target['version'], entry.get('outcome', 'nothing')))
            entry.update(outcome='in_progress', ended=None, converged=entry.get('converged', 0) + 1,
                         reason='a later run found it serving and recorded it (was: %s)'
                         % (found[-1].get('outcome') if found else 'no entry'))
        elif plan['history'] == 'new':
            entry = {
                'number': revision, 'image': target['image'], 'version': target['version'],
                'image_id': target['id'], 'channel': target.get('channel'), 'strategy': plan['strategy'],
                'instances': spec['instances'], 'started': self.now(), 'ended': None, 'outcome': 'in_progress',
                'previous': previous['revision'] if previous else None,
                'rollback_of': previous['revision'] if rollback_of and previous else None,
                'restores': target.get('restores'),
                'lb_version': lb_image['version'], 'reason': '',
            }
        if entry is not None:
            self._write_entry(entry)
        executed, replanned = [], []

        def replan():
            # The same strategy code as the plan, on a fresh observation of the cleaned-up fleet.
            self.normalize(target)
            fresh = self.observe()
            return (self.plan(fresh, target, lb_image, strategy)['steps'],
                    self.expected_of(self.classify(fresh, target), target))

        try:
            self.ensure_lb(lb_image)
            if plan['lb'] == 'roll':
                self.roll_lb(lb_image)
            self.normalize(target)
            if (strategy or spec['strategy']) == 'canary' and plan['strategy'] == 'rolling':
                self.log('canary: no instance of another revision serves, nothing to compare with: rolling')
            self.run_steps(plan['steps'], target, revision, replan, self.expected_of(c, target), executed,
                           replanned)
            self.prune_stopped(target)
        except (StepFailed, ProviderError, FleetError) as exc:
            # FleetError: a look at the fleet failed mid-run (a load balancer killed while it was asked).
            if isinstance(exc, StepFailed) and exc.detail:
                self.analysis = exc.detail
            self.log('FAILED: %s' % exc)
            outcome, detail = self._roll_back(previous, target, plan['strategy'], lb_image)
            if entry is not None:
                entry.update(outcome=outcome, ended=self.now(), reason=str(exc))
                self._write_entry(entry)
            result.update(self._result(plan, target, outcome))
            result.update(changed=True, instances=self.instances_now(), diff=result.get('diff'), steps=executed,
                          replanned=replanned)
            if previous:
                result['revision'] = {'number': previous['revision'], 'version': previous['version'],
                                      'image_id': previous['id']}
            msg = 'rollout of fleet %s to %s (%s) failed: %s. ' % (self.fleet, target['version'], plan['strategy'], exc)
            if outcome == 'rolled_back':
                msg += ('Rolled back: the fleet serves revision %s (%s) again.'
                        % (previous['revision'], previous['version'])
                        if previous else 'Rolled back: the new instances were removed (first deploy).')
            else:
                msg += 'The rollback failed too (%s): rerun the rollout or the rollback to converge.' % detail
            raise FleetError(msg, result=result)
        if entry is not None:
            entry.update(outcome='succeeded', ended=self.now())
            self._write_entry(entry)
        result.update(self._result(plan, target, 'succeeded'))
        result.update(changed=True, instances=self.instances_now(), history_entry=entry, steps=executed,
                      replanned=replanned)
        result['diff'] = result.get('diff')
        return result

    def _roll_back(self, previous, target, strategy, lb_image):
        """Back to ``previous`` after a failed step; returns (outcome, detail)."""
        self._watched.clear()  # the failed rollout's monitor windows
        try:
            # A load balancer that died during the step is replaced first, serving the revision that served.
            self.ensure_lb(lb_image)
            if previous is None:
                leftovers = [i for i in self.provider.instances(self.fleet)
                             if i.image_id == target['id'] and i.name not in self._initial_serving]
                self.retire(leftovers, keep=False)
                self.log('rolled back: removed the instances of the failed first deploy')
                return 'rolled_back', None
            self.log('rolling back to revision %s (%s)' % (previous['revision'], previous['version']))
            # The same steps as a rollout, to the previous target: blue/green restarts the kept set (and does
            # not keep the failed one), anything else rolls at least one instance at a time, none unavailable.
            surge, dummy = rolling_limits(self.spec)
            back = 'blue_green' if strategy == 'blue_green' else 'rolling'

            def replan():
                self.normalize(previous)
                c = self.classify(self.observe(), previous)
                return (self.strategy_steps(c, previous, back, max(1, surge), 0, keep_old=False)[1],
                        self.expected_of(c, previous))

            steps, expected = replan()
            self.run_steps(steps, previous, previous['revision'], replan, expected, [], [])
            self.prune_stopped(previous)
            self.log('rolled back to revision %s (%s)' % (previous['revision'], previous['version']))
            return 'rolled_back', None
        except (StepFailed, ProviderError, FleetError) as exc:
            self.log('ROLLBACK FAILED: %s' % exc)
            return 'failed', str(exc)

    def instances_now(self):
        """The fleet's instances as modules return them (``[]`` when the provider cannot list them)."""
        try:
            return [i.as_dict() for i in self.provider.instances(self.fleet)]
        except ProviderError:
            return []

    # Rollback and removal -----------------------------------------------------------------------------------
    def rollback_target(self, store, state=None):
        """The previous successful revision (other than what serves now) as a target, for rollback.yml."""
        state = state or self.observe()
        serving = [i for i in state.running if established(state.servers.get(i.name))]
        current_images = set(i.image_id for i in serving) or set([self.current_image(state)])
        for entry in reversed(state.history):
            if entry.get('outcome') == 'succeeded' and entry.get('image_id') not in current_images:
                try:
                    record = store.get(entry['image_id'])
                except ImageStoreError as exc:
                    raise FleetError(str(exc))
                if record is None:
                    raise FleetError('revision %s of fleet %s (%s %s, %s) is the one to roll back to, but its image '
                                     'is no longer on the engine: bake %s %s again and roll out -e version=%s'
                                     % (entry['number'], self.fleet, entry.get('image'), entry['version'],
                                        entry['image_id'][:19], entry.get('image'), entry['version'],
                                        entry['version']))
                return {'image': entry.get('image') or self.spec['image'], 'version': entry['version'],
                        'id': entry['image_id'], 'ref': entry['image_id'], 'channel': None,
                        'restores': entry['number']}
        raise FleetError('fleet %s has no earlier successful revision to roll back to (history: %s); roll out a '
                         'version instead (-e version=X.Y.Z)'
                         % (self.fleet, ', '.join('%s %s %s' % (e.get('number'), e.get('version'), e.get('outcome'))
                                                  for e in state.history) or 'empty'))

    def rollback_strategy(self, target):
        """Blue/green when stopped instances of ``target`` are kept (instant rollback), else the fleet's
        strategy (a canary rolls back as rolling)."""
        kept = [i for i in self.provider.instances(self.fleet) if i.state == STOPPED and i.image_id == target['id']]
        if kept:
            return 'blue_green'
        return 'rolling' if self.spec['strategy'] == 'canary' else self.spec['strategy']

    def destroy(self, check_mode=False, break_lock=False):
        """Remove the whole fleet: instances, load balancer, network, history."""
        instances = self.provider.instances(self.fleet)
        lb = self.provider.load_balancer(self.fleet)
        history = self.provider.read_history(self.fleet)
        present = bool(instances or lb or history or self.fleet in self.provider.fleets())
        outcome = 'unchanged' if not present else 'planned' if check_mode else 'removed'
        result = {'changed': present, 'fleet': self.fleet, 'outcome': outcome,
                  'plan': {'remove': [i.name for i in instances] + ([lb.name] if lb else [])},
                  'events': self.events, 'warnings': self.warnings}
        if not present or check_mode:
            return result
        self.check_lock(self.provider.lock_holder(self.fleet), break_lock)
        with self.locked('removal of fleet %s' % self.fleet, break_lock):
            for inst in instances:
                self.provider.remove_instance(inst)
            self.provider.remove_load_balancer(self.fleet)
            self.log('removed %d instance(s) and the load balancer' % len(instances))
        self.provider.forget(self.fleet)
        self.log('removed the network and history of fleet %s' % self.fleet)
        return result

    # Information --------------------------------------------------------------------------------------------
    def describe(self, health_check=True):
        """Everything fleet_info reports about the fleet."""
        state = self.observe()
        current = self.current_image(state)
        instances = []
        for inst in state.instances:
            data = inst.as_dict()
            server = state.servers.get(inst.name)
            data['lb'] = None
            if server is not None:
                data['lb'] = {'state': server['admin'], 'up': server['up'], 'weight': server['weight'],
                              'sessions': server.get('scur', 0), 'check': server.get('check_status')}
            data['serving'] = established(server)
            data['health'] = 'stopped' if not inst.running else 'unknown'
            if inst.running and health_check and self.spec and inst.endpoint:
                health = self.spec['health']
                status, error = self.http(inst.endpoint[0], inst.endpoint[1], health['path'], health['timeout'])
                data['health'] = 'healthy' if status == health['status'] else 'unhealthy (%s)' % (status or error)
            elif inst.running and server is not None:
                data['health'] = 'healthy' if server['up'] else 'unhealthy (%s)' % server.get('check_status')
            data['current'] = inst.image_id == current
            instances.append(data)
        return {
            'name': self.fleet,
            'lb': state.lb.as_dict() if state.lb else None,
            'instances': instances,
            'serving': self._revision_groups([i for i in state.running if established(state.servers.get(i.name))]),
            'stray_servers': sorted(n for n in state.servers if n not in set(i.name for i in state.running)),
            'history': list(reversed(state.history)),
            'lock': state.lock,
        }

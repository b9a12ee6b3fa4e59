# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Heal a fleet: replace failed instances with new ones of the fleet revision's image, never repair in place.

The fleet *revision* is the image of the newest ``succeeded`` entry of the fleet's revision history (kept in the
engine by the rollout). Heal reconciles the fleet with it:

- an instance of that image that is not running is replaced: ``exited`` (state ``stopped`` or ``failed``) or
  ``not_running`` (``pending``: never started, paused, restarting);
- a running instance outside normal service (not in the load balancer, drained, staged at weight 0) is a
  leftover of an interrupted step: it is replaced;
- a running instance in service that has failed its health check for ``unhealthy_after`` seconds is replaced
  (see *Unhealthy for how long* below);
- missing instances (fewer healthy ones than the spec's ``instances``) are created;
- load-balancer servers without an instance are deleted.

Stopped instances of other images are the previous revisions a blue/green rollout keeps for an instant rollback:
heal leaves them alone. A running instance of another image in service is counted (it serves) and reported;
``fleet_drift`` with ``remediate: replace`` replaces it.

Replacing means: new instances of the revision's image ID are created (never a restart of the old container),
health-gated by the controller, added to the load balancer and watched for ``monitor`` seconds; only then are
the bad ones drained and removed. When a new instance fails its gate, it is removed again and the old ones stay
as they were (the next run tries again). Everything happens under the fleet's lock, the one rollouts take.

Unhealthy for how long, without state on the controller
-------------------------------------------------------
Two witnesses, both outside the controller, so a scheduled run on any controller (or a restarted one) reaches
the same verdict:

1. The load balancer's record. It health-checks every member every ``health.interval`` seconds and the traffic
   port's counters give, per member it sees down, ``down_for``: the seconds since it went down (HAProxy:
   ``lastchg`` of ``show stat`` for a server whose status is DOWN). Such a member has been failing at least that
   long.
2. This run's own checks. An instance that fails the controller's check (GET ``health.path`` on its published
   port) while HAProxy has not declared it down yet is watched, one check per ``health.interval``, for what is
   left of ``unhealthy_after``; a single good answer (and HAProxy seeing it up) clears it. The watch is bounded
   by ``unhealthy_after`` and only happens when something is failing: a healthy fleet costs one check per instance.

An instance failing for ``unhealthy_after`` seconds or more is unhealthy and replaced; one failing for less is a
*suspect*: reported, counted as a member, not replaced (``watch=False``, as drift remediation uses, judges on the
load balancer's record alone and never waits).
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

from ansible_collections.immutable.infra.plugins.module_utils.fleet import NORMAL_WEIGHT, FleetError
from ansible_collections.immutable.infra.plugins.module_utils.provider import (
    FAILED, STOPPED, Instance, ProviderError, TrafficError,
)
from ansible_collections.immutable.infra.plugins.module_utils.rollout import (
    StepFailed, holder_alive, in_parallel, last_succeeded, running_revision,
)

DEFAULT_UNHEALTHY_AFTER = 30
REASONS = ('exited', 'not_running', 'out_of_service', 'unhealthy', 'drifted')


# Pure parts ---------------------------------------------------------------------------------------------------
def unfinished_rollout(history):
    """The last history entry when it is still ``in_progress`` (a rollout running or interrupted), else None."""
    last = history[-1] if history else None
    return last if last and last.get('outcome') == 'in_progress' else None


def fleet_revision(fleet, history, instances, image_name=None):
    """The revision the fleet runs, as a rollout target dict plus ``revision`` (the number new instances carry).

    The image is the one of the newest succeeded history entry; its instances keep their revision number (the
    highest one among the instances of that image, the entry's number when none is left). Raises FleetError when
    the fleet never had a successful rollout.
    """
    entry = last_succeeded(history)
    if entry is None or not entry.get('image_id'):
        raise FleetError('fleet %s has no successful revision in its history, so there is no image to heal it '
                         'with: deploy it first (ansible-playbook playbooks/rollout.yml -e fleet=%s)' % (fleet, fleet))
    disagreement = serving_beyond(history, entry, instances)
    if disagreement:
        later, names = disagreement
        raise FleetError(
            'fleet %s: %s run%s %s (revision %s, whose rollout is %s in the history), but its last successful revision '
            'is %s (%s). The history disagrees with what serves, and heal and drift never change the version a fleet '
            'serves. Converge it first: rerun that rollout (playbooks/rollout.yml -e fleet=%s -e version=%s), which '
            'records the revision that serves, or roll out %s again (-e version=%s). Nothing was changed.'
            % (fleet, ', '.join(names), 's' if len(names) == 1 else '', later.get('version'), later.get('number'),
               later.get('outcome'), entry.get('number'), entry.get('version'), fleet, later.get('version'),
               entry.get('version'), entry.get('version')))
    target = running_revision(entry.get('image') or image_name, entry.get('version'), entry['image_id'], instances,
                              default=entry.get('number'))
    target['entry'] = entry.get('number')
    return target


def serving_beyond(history, entry, instances):
    """``(later_entry, names)`` when running instances run the image of a history entry newer than the
    successful ``entry`` that did not succeed (a rollout that failed, was rolled back or interrupted, yet left its
    instances serving); None when the history agrees with what runs."""
    later = dict((e.get('image_id'), e) for e in history or []
                 if e.get('number', 0) > entry.get('number', 0) and e.get('outcome') != 'succeeded'
                 and e.get('image_id') and e.get('image_id') != entry.get('image_id'))
    names = sorted(i.name for i in instances if i.running and i.image_id in later)
    if not names:
        return None
    image_id = max((i for i in instances if i.name in names), key=lambda i: i.revision).image_id
    return later[image_id], names


def in_service(server):
    """Why a load-balancer server is not in normal service (None when it is: ready at the normal weight).
    Whether it is up is the health verdict's business."""
    if server is None:
        return 'not in the load balancer'
    if server.get('admin') != 'ready':
        return '%s in the load balancer' % server.get('admin')
    if server.get('weight') != NORMAL_WEIGHT:
        return 'weight %s in the load balancer' % server.get('weight')
    return None


def plan_heal(instances, servers, target_id, desired, verdicts, force=None, lb=None):
    """What heal does to a fleet (pure function).

    ``instances``: every instance of the fleet; ``servers``: the load balancer's servers by name; ``target_id``:
    the fleet revision's image; ``desired``: the spec's instance count; ``verdicts``: ``{name: {'verdict':
    'healthy'|'suspect'|'unhealthy', 'failing_for', 'answer'}}`` for running instances in service (missing means
    healthy); ``force``: ``{name: detail}`` of running instances to replace anyway (drift); ``lb``: ``None``
    when the load balancer runs, else why a new one is needed (it is missing, exited...).

    A running instance of the revision's image that is not in the load balancer but answers its health check
    (``verdicts`` says ``healthy``) is put back (``readmit``), up to ``desired`` members: the load balancer lost
    it (restarted, or replaced), the instance did nothing wrong. With ``lb`` set, there are no servers at all:
    the new load balancer starts with the members in it.

    Returns ``{lb, replace: [{name, reason, detail, state, version, revision}], readmit, create, members,
    suspects, kept, other_image, stray_servers, surplus, changed}``.
    """
    force = force or {}
    servers = {} if lb else (servers or {})
    plan = {'lb': lb, 'replace': [], 'readmit': [], 'create': 0, 'members': [], 'suspects': [], 'kept': [],
            'other_image': [], 'stray_servers': [], 'surplus': 0, 'changed': False}

    def bad(inst, reason, detail):
        plan['replace'].append({'name': inst.name, 'reason': reason, 'detail': detail, 'state': inst.state,
                                'version': inst.version, 'revision': inst.revision})

    for inst in sorted(instances, key=Instance.age_key):
        if not inst.running:
            if inst.state == STOPPED and inst.image_id != target_id:
                plan['kept'].append(inst.name)
            else:
                bad(inst, 'exited' if inst.state in (STOPPED, FAILED) else 'not_running',
                    'state %s' % inst.describe_state())
            continue
        if inst.name in force:
            bad(inst, 'drifted', force[inst.name])
            continue
        why = in_service(servers.get(inst.name))
        verdict = verdicts.get(inst.name) or {'verdict': 'healthy'}
        if why and inst.name not in servers and inst.image_id == target_id and verdict['verdict'] == 'healthy' \
                and len(plan['members']) < desired:
            plan['members'].append(inst.name)
            plan['readmit'].append(inst.name)
            continue
        if why:
            bad(inst, 'out_of_service', why if verdict['verdict'] == 'healthy' else '%s, failing its health check '
                '(last answer: %s)' % (why, verdict.get('answer')))
            continue
        if verdict['verdict'] == 'unhealthy':
            bad(inst, 'unhealthy', 'failing its health check for %ss (last answer: %s)'
                % (verdict.get('failing_for'), verdict.get('answer')))
            continue
        plan['members'].append(inst.name)
        if verdict['verdict'] == 'suspect':
            plan['suspects'].append({'name': inst.name, 'failing_for': verdict.get('failing_for'),
                                     'answer': verdict.get('answer')})
        if inst.image_id != target_id:
            plan['other_image'].append({'name': inst.name, 'version': inst.version, 'image_id': inst.image_id})
    replaced = set(r['name'] for r in plan['replace'])
    running = set(i.name for i in instances if i.running)
    plan['stray_servers'] = sorted(n for n in servers if n not in running and n not in replaced)
    plan['create'] = max(0, desired - len(plan['members']))
    plan['surplus'] = max(0, len(plan['members']) - desired)
    plan['changed'] = bool(lb or plan['replace'] or plan['readmit'] or plan['create'] or plan['stray_servers'])
    return plan


# The healer ---------------------------------------------------------------------------------------------------
class Healer:
    """Heal one fleet with a ``FleetEngine`` (its provider's ports, its probe, clock and lock).

    ``unhealthy_after``: seconds an instance must have failed its health check before it is replaced; ``watch``:
    watch failing instances within this run (bounded by ``unhealthy_after``), or judge on the load balancer's
    record alone; ``lb_image``: the load balancer image (``rollout.resolve_image``, or a function returning it)
    a missing or dead load balancer is replaced with (default: the image of the dead one).
    """

    def __init__(self, engine, unhealthy_after=DEFAULT_UNHEALTHY_AFTER, watch=True, lb_image=None):
        if unhealthy_after is None or unhealthy_after < 0:
            raise FleetError('unhealthy_after is %r, expected a number of seconds >= 0' % (unhealthy_after,))
        self.engine = engine
        self.spec = engine.spec
        self.fleet = engine.fleet
        self.unhealthy_after = unhealthy_after
        self.watch = watch
        self.lb_image = lb_image
        self.recovered = []

    # Health ---------------------------------------------------------------------------------------------------
    def check(self, inst):
        """The controller's health check of one instance: ``(ok, answer)``."""
        health = self.spec['health']
        if not inst.endpoint:
            return False, 'no published service port'
        status, error = self.engine.http(inst.endpoint[0], inst.endpoint[1], health['path'], health['timeout'])
        return status == health['status'], status if status is not None else error

    def lb_down_for(self):
        """The load balancer's record of the servers it sees DOWN and for how long (``{}`` when unreadable)."""
        lb = self.engine.running_lb()
        if lb is None:
            return {}
        try:
            return dict((name, counters['down_for']) for name, counters in self.engine.provider.counters(lb).items()
                        if counters.get('down_for') is not None)
        except TrafficError as exc:
            self.engine.warn('cannot read how long servers have been down from the load balancer: %s' % exc)
            return {}

    def judge(self, state, target_id, known=None):
        """Verdicts for the running instances in normal service (see the module docstring).

        ``known``: ``{name: since}`` (clock time an instance was already known to fail since, from an earlier
        pass of this run). Returns ``(verdicts, since)``.
        """
        clock = self.engine.clock
        known = known or {}
        servers = state.servers
        candidates = [i for i in state.running if in_service(servers.get(i.name)) is None]
        down_for = self.lb_down_for() if candidates else {}
        verdicts, since, answers = {}, {}, {}
        # Running instances of the revision the load balancer lost (restarted, dead): its record says nothing
        # about them, the controller's check alone decides whether they go back in or are replaced.
        outside = [i for i in state.running if i.name not in servers and i.image_id == target_id]
        for inst, (ok, answer) in zip(outside, in_parallel(self.check, outside)):
            verdicts[inst.name] = ({'verdict': 'healthy'} if ok else
                                   {'verdict': 'unhealthy', 'failing_for': 0, 'answer': answer})
        now = clock()
        for inst in candidates:
            ok, answer = self.check(inst)
            lb_up = bool(servers[inst.name].get('up'))
            if ok and lb_up:
                verdicts[inst.name] = {'verdict': 'healthy'}
                continue
            answers[inst.name] = answer if not ok else 'the load balancer sees it DOWN (check %s)' % (
                servers[inst.name].get('check_status'))
            since[inst.name] = min(known.get(inst.name, now), now - down_for.get(inst.name, 0))
        if since and self.watch:
            self._watch(candidates, since, answers, verdicts)
        now = clock()
        for name in since:
            failing_for = round(now - since[name], 1)
            verdicts[name] = {'verdict': 'unhealthy' if failing_for >= self.unhealthy_after else 'suspect',
                              'failing_for': failing_for, 'answer': answers[name]}
        return verdicts, since

    def _watch(self, candidates, since, answers, verdicts):
        """Check the failing instances again until each is past ``unhealthy_after`` or answers healthy."""
        clock = self.engine.clock
        by_name = dict((i.name, i) for i in candidates)
        interval = self.spec['health']['interval']
        pending = [n for n in since if clock() - since[n] < self.unhealthy_after]
        if pending:
            self.engine.log('watching %s: failing its health check, replaced once it has failed for %ss'
                            % (', '.join(pending), self.unhealthy_after))
        while pending:
            self.engine.sleep(min(interval, max(0.05, min(since[n] + self.unhealthy_after - clock()
                                                          for n in pending))))
            lb = self.engine.running_lb()
            try:
                servers = self.engine.provider.members(lb) if lb else {}
            except TrafficError:
                servers = {}
            for name in list(pending):
                ok, answer = self.check(by_name[name])
                if ok and (servers.get(name) or {}).get('up', True):
                    del since[name]
                    pending.remove(name)
                    verdicts[name] = {'verdict': 'healthy'}
                    self.recovered.append(name)
                    self.engine.log('%s answers its health check again: kept' % name)
                    continue
                answers[name] = answer if not ok else 'the load balancer sees it DOWN'
                if clock() - since[name] >= self.unhealthy_after:
                    pending.remove(name)

    # Observation and plan ---------------------------------------------------------------------------------------
    def assess(self, check_mode, break_lock, force, known=None):
        """Observe, check the lock (unless ``known`` says this run holds it) and the history, judge the
        instances, plan. Returns ``(state, target, plan, since)``."""
        engine = self.engine
        state = engine.observe()
        alive = holder_alive(state.lock, engine.hostname) if state.lock and known is None else None
        held = bool(state.lock) and known is None and alive is not False and not break_lock
        if held and check_mode:
            engine.warn(engine.lock_message(state.lock, alive))
        elif held:
            engine.check_lock(state.lock, break_lock)
        unfinished = unfinished_rollout(state.history)
        if unfinished and not held:
            raise FleetError('the last rollout of fleet %s (revision %s to %s, started %s) did not finish: the '
                             'controller stopped during it. Rerun it (playbooks/rollout.yml -e fleet=%s -e '
                             'version=%s) or roll back (playbooks/rollback.yml -e fleet=%s), then heal. Nothing '
                             'was changed.' % (self.fleet, unfinished.get('number'), unfinished.get('version'),
                                               unfinished.get('started'), self.fleet, unfinished.get('version'),
                                               self.fleet))
        target = fleet_revision(self.fleet, state.history, state.instances, self.spec['image'])
        lb = None
        if state.lb is None or not state.lb.running:
            lb = 'the load balancer is %s' % (state.lb.state if state.lb else 'missing')
            state.servers = {}
        verdicts, since = self.judge(state, target['id'], known or {})
        plan = plan_heal(state.instances, state.servers, target['id'], self.spec['instances'], verdicts, force, lb)
        return state, target, plan, since

    def replacement_lb_image(self, state):
        """The image a new load balancer is created from: ``lb_image`` (a dict, or a function that resolves it
        only when needed), else the dead one's own."""
        if callable(self.lb_image):
            return self.lb_image()
        if self.lb_image:
            return self.lb_image
        if state.lb is not None and state.lb.image_id:
            return {'image': 'lb', 'version': state.lb.version, 'id': state.lb.image_id, 'ref': state.lb.image_id,
                    'channel': None}
        raise FleetError('the load balancer of fleet %s is missing and this run was given no load balancer image to '
                         'create it from: run playbooks/heal.yml (which resolves the spec\'s lb_version) or '
                         'playbooks/rollout.yml -e fleet=%s' % (self.fleet, self.fleet))

    def report(self, plan, target):
        """Warnings about what heal leaves alone (once per run, on the plan it acts on)."""
        engine = self.engine
        if self.spec.get('version') and self.spec['version'] != target['version']:
            engine.warn('the spec of fleet %s asks for version %s, the fleet runs revision %s (%s): heal keeps %s; '
                        'roll out to change the version' % (self.fleet, self.spec['version'], target['revision'],
                                                            target['version'], target['version']))
        for other in plan['other_image']:
            engine.warn('instance %s runs %s (%s), not the fleet revision\'s image %s: heal counts it, '
                        'playbooks/drift.yml -e remediate=replace replaces it'
                        % (other['name'], other['version'], (other['image_id'] or '?')[:19], target['id'][:19]))
        if plan['surplus']:
            engine.warn('fleet %s has %d instance(s) more than its spec\'s %d: heal removes no healthy instance '
                        '(a rollout with -e instances=N scales)' % (self.fleet, plan['surplus'], self.spec['instances']))
        for suspect in plan['suspects']:
            engine.log('%s has failed its health check for %ss (< unhealthy_after %ss): not replaced yet'
                       % (suspect['name'], suspect['failing_for'], self.unhealthy_after))

    def describe(self, state, plan, target):
        """The diff: the instances before and after."""
        before = ['fleet: %s, revision %s: %s (%s)' % (self.fleet, target['revision'], target['version'],
                                                       target['id'][:19])]
        for inst in state.instances:
            if inst.name in plan['kept']:
                continue
            reason = next((r for r in plan['replace'] if r['name'] == inst.name), None)
            before.append('  - %s %s%s' % (inst.name, inst.state, (' (%s: %s)' % (reason['reason'], reason['detail']))
                                           if reason else ''))
        if plan['lb']:
            before.append('  load balancer: %s' % plan['lb'])
        back = ' (back into the load balancer)'
        after = before[:1] + ['  - %s running%s' % (name, back if name in plan['readmit'] else '')
                              for name in plan['members']]
        if plan['lb']:
            after.append('  load balancer: a new one, serving the members above from its first request')
        if plan['create']:
            after.append('  - %d new instance(s) of %s' % (plan['create'], target['version']))
        return {'before': '\n'.join(before) + '\n', 'after': '\n'.join(after) + '\n'}

    def result(self, plan, target, outcome, diff=None):
        return {
            'changed': False,
            'fleet': self.fleet,
            'outcome': outcome,
            'revision': {'number': target['revision'], 'version': target['version'], 'image_id': target['id']},
            'plan': plan,
            'replaced': [],
            'created': [],
            'removed': [],
            'readmitted': [],
            'recovered': list(self.recovered),
            'events': self.engine.events,
            'warnings': self.engine.warnings,
            'diff': diff,
        }

    # Heal -------------------------------------------------------------------------------------------------------
    def run(self, check_mode=False, break_lock=False, force=None):
        """Heal the fleet; ``force``: ``{name: detail}`` of running instances to replace anyway (drift).

        Returns the result dict; raises FleetError (with ``result``) when a replacement failed.
        """
        state, target, plan, since = self.assess(check_mode, break_lock, force)
        diff = self.describe(state, plan, target)
        result = self.result(plan, target, 'planned' if plan['changed'] else 'unchanged', diff)
        result['changed'] = plan['changed']
        if not plan['changed'] or check_mode:
            self.report(plan, target)
            return result
        operation = 'heal of %s (replace %d, create %d%s)' % (
            self.fleet, len(plan['replace']), plan['create'], ', new load balancer' if plan['lb'] else '')
        with self.engine.locked(operation, break_lock):
            # Again under the lock: a rollout may have run meanwhile. No second watch: what failed long enough
            # above is still failing now, or it recovered.
            watch, self.watch = self.watch, False
            try:
                state, target, plan, since = self.assess(False, break_lock, force, known=since)
            finally:
                self.watch = watch
            self.report(plan, target)
            result = self.result(plan, target, 'unchanged', self.describe(state, plan, target))
            if not plan['changed']:
                result['changed'] = self.engine.lock_broken
                return result
            return self.execute(state, plan, target, result)

    def execute(self, state, plan, target, result):
        engine = self.engine
        by_name = dict((i.name, i) for i in state.instances)
        bad = [by_name[r['name']] for r in plan['replace']]
        readmit = [by_name[n] for n in plan['readmit']]
        created = []
        try:
            if plan['lb']:
                # New instances first (gated by the controller), then a new load balancer that has every
                # member in its backend before its frontend takes its first request.
                lb_image = self.replacement_lb_image(state)
                created = engine.provision(target, target['revision'], plan['create'], reuse=False)
                try:
                    engine.gate(created)
                except StepFailed:
                    engine.discard(created)
                    created = []
                    raise
                engine.log('%s: a new one starts with %s' % (plan['lb'], ', '.join(
                    i.name for i in readmit + created) or 'no server'))
                engine.ensure_lb(lb_image, members=readmit + created)
            else:
                self.delete_servers(plan['stray_servers'])
                if readmit:
                    engine.gate(readmit)
                    engine.admit(readmit)
                    engine.log('back into the load balancer: %s' % ', '.join(i.name for i in readmit))
                created = engine.bring_in(target, target['revision'], plan['create'], reuse=False)
            try:
                engine.monitor(created + readmit, self.spec['monitor'])
            except StepFailed:
                engine.discard(created)
                created = []
                raise
            engine.retire(bad, keep=False)
        except (StepFailed, ProviderError) as exc:
            engine.log('FAILED: %s' % exc)
            result.update(changed=bool(created or plan['stray_servers']), outcome='failed',
                          created=[i.name for i in created], instances=self.engine.instances_now())
            msg = 'heal of fleet %s failed: %s. ' % (self.fleet, exc)
            if created:
                msg += ('The new instances %s serve; the ones to replace (%s) were not all removed: rerun heal.'
                        % (', '.join(i.name for i in created), ', '.join(i.name for i in bad)))
            else:
                msg += ('No new instance came in, so nothing was removed: the instances to replace (%s) are as they '
                        'were. Fix the cause (docker logs of the failed instance) and rerun heal.'
                        % (', '.join(i.name for i in bad) or 'none'))
            raise FleetError(msg, result=result)
        new_names = [i.name for i in created]
        result.update(changed=True, outcome='healed', created=new_names, removed=[i.name for i in bad],
                      readmitted=[i.name for i in readmit], instances=self.engine.instances_now())
        result['replaced'] = [dict(r, replacement=new_names[n] if n < len(new_names) else None)
                              for n, r in enumerate(plan['replace'])]
        engine.log('healed fleet %s: %d replaced, %d created%s%s' % (
            self.fleet, len(bad), len(created), ', %d back into the load balancer' % len(readmit) if readmit else '',
            ', new load balancer' if plan['lb'] else ''))
        return result

    def delete_servers(self, names):
        """Remove load-balancer members whose instance is gone (``Traffic.remove_member``)."""
        if not names:
            return
        lb = self.engine.running_lb()
        for name in names:
            self.engine.remove_member(name, lb)
            self.engine.log('deleted load-balancer server %s (its instance is gone)' % name)

# -*- coding: utf-8 -*-
# Copyright: (c) 2026, immutable.infra contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A client of HAProxy's runtime API (the stats socket at ``level admin``) over TCP.

Every change to a fleet's load balancer goes through here: servers are added, put into ``ready``, ``drain`` or
``maint``, re-weighted and deleted at run time; nothing rewrites the configuration or reloads HAProxy. Each
command opens one connection (the API's non-interactive mode), sends one line and reads until HAProxy closes it.
Several commands joined with ``;`` on one line run back to back, which makes a blue/green switch one step.

Parsing is in plain functions (``parse_stat_csv``, ``parse_servers_state``) so it is tested without HAProxy.
"""

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

import re
import socket
import time

SERVER_NAME_RE = re.compile(r'^[A-Za-z0-9_.:-]{1,100}$')
STATES = ('ready', 'drain', 'maint')

# srv_op_state of "show servers state".
OP_STATES = {0: 'stopped', 1: 'starting', 2: 'running', 3: 'stopping'}
# srv_admin_state bits of "show servers state": forced, inherited, configured or DNS maintenance; drain.
ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20
ADMIN_DRAIN = 0x08 | 0x10

RESPONSE_COLUMNS = ('hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx', 'hrsp_other')


class HAProxyError(Exception):
    """The runtime API could not be reached or refused a command; the message has HAProxy's answer."""


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def parse_stat_csv(text):
    """Rows of ``show stat`` CSV as dicts keyed by column name (numbers stay strings)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith('# '):
        raise HAProxyError('unexpected answer to show stat: %r' % text[:200])
    columns = lines[0][2:].split(',')
    rows = []
    for line in lines[1:]:
        values = line.split(',')
        rows.append(dict(zip(columns, values)))
    return rows


def server_stats(rows, backend):
    """Per-server counters of ``backend`` from parsed ``show stat`` rows.

    ``{name: {status, weight, scur, responses, errors, hrsp_5xx, eresp, rtime, check_status, addr, chkdown,
    down_for}}`` (``chkdown``: how many times HAProxy saw the server go from up to down; ``down_for``: the seconds
    since its last UP/DOWN transition, ``lastchg``, when its checks see it DOWN, else None);
    ``responses`` counts every HTTP response of the server, ``errors`` its 5xx plus broken responses.
    """
    servers = {}
    for row in rows:
        if row.get('pxname') != backend or row.get('svname') in ('FRONTEND', 'BACKEND'):
            continue
        responses = sum(_int(row.get(column)) for column in RESPONSE_COLUMNS)
        servers[row['svname']] = {
            'status': row.get('status', ''),
            'weight': _int(row.get('weight')),
            'scur': _int(row.get('scur')),
            'responses': responses + _int(row.get('eresp')),
            'errors': _int(row.get('hrsp_5xx')) + _int(row.get('eresp')),
            'hrsp_5xx': _int(row.get('hrsp_5xx')),
            'eresp': _int(row.get('eresp')),
            'rtime': _int(row.get('rtime')),
            'check_status': row.get('check_status', ''),
            'addr': row.get('addr', ''),
            'chkdown': _int(row.get('chkdown')),
            'down_for': max(0, _int(row.get('lastchg'))) if str(row.get('status', '')).startswith('DOWN') else None,
        }
    return servers


def down_for(rows, backend):
    """``{server: seconds}`` for the servers of ``backend`` that HAProxy's own checks see DOWN, from parsed
    ``show stat`` rows: ``lastchg`` is the seconds since the server's last UP/DOWN transition."""
    return dict((name, server['down_for']) for name, server in server_stats(rows, backend).items()
                if server['down_for'] is not None)


def parse_servers_state(text):
    """``show servers state <backend>`` as ``{name: {addr, port, op_state, admin, up, weight, check_health}}``.

    ``admin`` is ``maint``, ``drain`` or ``ready``; ``up`` is true when the operational state is running.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    header = next((line for line in lines if line.startswith('# ')), None)
    if header is None:
        if lines and lines[0].strip() == '1' and len(lines) == 1:
            return {}
        raise HAProxyError('unexpected answer to show servers state: %r' % text[:200])
    columns = header[2:].split()
    servers = {}
    for line in lines:
        if line.startswith('#') or line.strip() == '1':
            continue
        row = dict(zip(columns, line.split()))
        admin_bits = _int(row.get('srv_admin_state'))
        if admin_bits & ADMIN_MAINT:
            admin = 'maint'
        elif admin_bits & ADMIN_DRAIN:
            admin = 'drain'
        else:
            admin = 'ready'
        op_state = OP_STATES.get(_int(row.get('srv_op_state')), 'unknown')
        servers[row['srv_name']] = {
            'addr': row.get('srv_addr'),
            'port': _int(row.get('srv_port')),
            'op_state': op_state,
            'admin': admin,
            'up': op_state == 'running',
            'weight': _int(row.get('srv_uweight')),
            'check_health': _int(row.get('srv_check_health')),
        }
    return servers


def check_settings(check):
    """HAProxy's server keywords for health checks ``check`` = dict(inter (seconds), rise, fall)."""
    return 'check inter %dms rise %d fall %d' % (int(check['inter'] * 1000), int(check['rise']), int(check['fall']))


def seed_servers(servers):
    """The lb image's ``IMMUTABLE_LB_SERVERS``: ``NAME ADDRESS:PORT WEIGHT`` entries separated by ``;``, from
    ``servers`` = ``[{name, address, port, weight}]``; names are checked as for the runtime API."""
    entries = []
    for server in servers:
        if not SERVER_NAME_RE.match(server['name'] or ''):
            raise HAProxyError('%r is not a valid HAProxy server name' % (server['name'],))
        entries.append('%s %s:%d %d' % (server['name'], server['address'], int(server['port']), int(server['weight'])))
    return ';'.join(entries)


class RuntimeAPI:
    """HAProxy's runtime API at ``host``:``port`` for one ``backend``."""

    def __init__(self, host, port, backend='be_app', timeout=5.0):
        self.host = host
        self.port = int(port)
        self.backend = backend
        self.timeout = timeout

    def __repr__(self):
        return 'RuntimeAPI(%s:%d, %s)' % (self.host, self.port, self.backend)

    # Transport ----------------------------------------------------------------------------------------------
    def execute(self, command):
        """Send one command line, return HAProxy's whole answer as text."""
        if '\n' in command:
            raise HAProxyError('a runtime API command is one line: %r' % command)
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as conn:
                conn.sendall(command.encode('utf-8') + b'\n')
                chunks = []
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except (OSError, socket.timeout) as exc:
            raise HAProxyError('HAProxy runtime API at %s:%d did not answer %r: %s'
                               % (self.host, self.port, command.split(' ', 2)[:2], exc))
        return b''.join(chunks).decode('utf-8', 'replace')

    def _expect_silence(self, command):
        """Run a command whose success is an empty answer (set/enable/disable); raise with HAProxy's words."""
        answer = self.execute(command)
        if answer.strip():
            raise HAProxyError('HAProxy refused %r: %s' % (command, ' / '.join(answer.split('\n')).strip(' /')))
        return answer

    def wait_ready(self, timeout=15.0, sleep=time.sleep, clock=time.monotonic):
        """Wait until the API answers ``show info`` (HAProxy starting up)."""
        deadline = clock() + timeout
        while True:
            try:
                if 'Name: HAProxy' in self.execute('show info'):
                    return
            except HAProxyError:
                pass
            if clock() > deadline:
                raise HAProxyError('HAProxy runtime API at %s:%d did not come up within %ss'
                                   % (self.host, self.port, timeout))
            sleep(0.2)

    # Reading ------------------------------------------------------------------------------------------------
    def show_stat(self):
        """Per-server counters of the backend (see ``server_stats``)."""
        answer = self.execute('show stat %s 4 -1' % self.backend)
        if not answer.startswith('# '):
            raise HAProxyError('HAProxy answered show stat %s with: %s' % (self.backend, answer.strip()))
        return server_stats(parse_stat_csv(answer), self.backend)

    def show_servers_state(self):
        """Administrative and operational state of every server of the backend."""
        answer = self.execute('show servers state %s' % self.backend)
        if "Can't find backend" in answer:
            raise HAProxyError('HAProxy has no backend %s' % self.backend)
        return parse_servers_state(answer)

    def servers(self):
        """``show servers state`` merged with the counters of ``show stat``: one dict per server name."""
        state = self.show_servers_state()
        stats = self.show_stat()
        for name, server in state.items():
            server.update({k: v for k, v in stats.get(name, {}).items() if k not in ('weight', 'addr')})
        return state

    # Changing -----------------------------------------------------------------------------------------------
    def _name(self, name):
        if not SERVER_NAME_RE.match(name or ''):
            raise HAProxyError('%r is not a valid HAProxy server name' % (name,))
        return '%s/%s' % (self.backend, name)

    def add_server(self, name, address, port, weight, check=None):
        """Add a server (HAProxy leaves a new server in maintenance); ``check`` = dict(inter, rise, fall)
        enables HAProxy's own health checks of it, using the backend's check settings."""
        command = 'add server %s %s:%d weight %d' % (self._name(name), address, int(port), int(weight))
        if check:
            command += ' ' + check_settings(check)
        answer = self.execute(command)
        if 'New server registered' not in answer:
            raise HAProxyError('HAProxy refused to add server %s (%s:%s): %s' % (name, address, port, answer.strip()))
        if check:
            self._expect_silence('enable health %s' % self._name(name))

    def del_server(self, name):
        """Delete a server; HAProxy requires it in maintenance and without connections."""
        answer = self.execute('del server %s' % self._name(name))
        if 'Server deleted' not in answer:
            raise HAProxyError('HAProxy refused to delete server %s: %s' % (name, answer.strip()))

    def set_state(self, name, state):
        if state not in STATES:
            raise HAProxyError('server state %r is not one of %s' % (state, ', '.join(STATES)))
        self._expect_silence('set server %s state %s' % (self._name(name), state))

    def set_weight(self, name, weight):
        self._expect_silence('set weight %s %d' % (self._name(name), int(weight)))

    def shutdown_sessions(self, name):
        self._expect_silence('shutdown sessions server %s' % self._name(name))

    def apply(self, changes):
        """Several changes in one command line, run back to back by HAProxy (a one-step switch).

        ``changes``: ``[('state', name, 'ready'), ('weight', name, 100), ...]``.
        """
        commands = []
        for kind, name, value in changes:
            if kind == 'state':
                if value not in STATES:
                    raise HAProxyError('server state %r is not one of %s' % (value, ', '.join(STATES)))
                commands.append('set server %s state %s' % (self._name(name), value))
            elif kind == 'weight':
                commands.append('set weight %s %d' % (self._name(name), int(value)))
            else:
                raise HAProxyError('unknown change %r' % (kind,))
        if commands:
            self._expect_silence('; '.join(commands))

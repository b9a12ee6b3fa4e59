# -*- coding: utf-8 -*-
"""The HAProxy runtime API client: parsing of real HAProxy 2.6 answers, commands sent, refusals raised."""

import socket
import threading

import pytest

from ansible_collections.immutable.infra.plugins.module_utils import haproxy
from ansible_collections.immutable.infra.plugins.module_utils.haproxy import HAProxyError, RuntimeAPI

STAT_HEADER = (
    '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,'
    'act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,'
    'rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,'
    'hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,'
    'last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,'
    'check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,\n')
# Rows as HAProxy 2.6.12 prints them (trimmed after `algo`).
STAT_ROWS = (
    'be_app,s1,0,0,2,3,,40,0,0,,0,,0,1,0,0,UP,100,1,0,0,0,3,0,,1,3,1,,40,,2,0,,3,L7OK,200,1,0,30,0,0,9,0,,,,'
    '0,0,0,,,,,-1,,,0,0,7,9,,,,Layer7 check passed,,2,3,4,,,,10.0.0.2:8080,,http,,\n'
    'be_app,s2,0,0,0,0,,0,0,0,,0,,0,0,0,0,DRAIN,0,1,0,0,0,0,0,,1,3,2,,0,,2,0,,0,INI,,,0,0,0,0,0,0,,,,0,0,0,,,,,'
    '-1,,,0,0,0,0,,,,Initializing,,2,3,2,,,,10.0.0.3:8080,,http,,\n'
    'be_app,BACKEND,0,0,2,3,,40,0,0,0,0,,0,1,0,0,UP,100,1,0,,0,3,0,,1,3,0,,40,,1,0,,3,,,,0,30,0,0,9,0,,,,40,0,0,'
    '0,0,0,0,-1,,,0,0,7,9,,,,,,,,,,,,,,http,roundrobin,\n\n')

SERVERS_STATE = (
    '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight '
    'srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state '
    'bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr '
    'srv_agent_addr srv_agent_port\n'
    '3 be_app 1 s1 10.0.0.2 2 0 100 100 3 15 3 4 6 0 0 0 - 8080 - 0 0 - - 0\n'
    '3 be_app 2 s2 10.0.0.3 2 8 0 100 0 1 0 2 6 0 0 0 - 8080 - 0 0 - - 0\n'
    '3 be_app 3 s3 10.0.0.4 0 1 100 100 0 1 0 0 2 0 0 0 - 8080 - 0 0 - - 0\n\n')


def test_show_stat_counters_per_server():
    servers = haproxy.server_stats(haproxy.parse_stat_csv(STAT_HEADER + STAT_ROWS), 'be_app')
    assert sorted(servers) == ['s1', 's2']
    s1 = servers['s1']
    assert s1['status'] == 'UP' and s1['scur'] == 2 and s1['weight'] == 100
    assert s1['hrsp_5xx'] == 9 and s1['eresp'] == 1
    assert s1['responses'] == 30 + 9 + 1 and s1['errors'] == 10
    assert s1['rtime'] == 7 and s1['check_status'] == 'L7OK' and s1['addr'] == '10.0.0.2:8080'
    assert servers['s2']['status'] == 'DRAIN'


def test_down_for_reads_status_and_lastchg():
    # How long heal's record says a server has been failing (moved here from test_heal.py: heal reads it through
    # the traffic port's counters, ``down_for``).
    rows = haproxy.parse_stat_csv('# pxname,svname,status,lastchg\nbe_app,a,UP,100\nbe_app,b,DOWN,42\n'
                                  'be_app,c,DOWN 1/2,7\nbe_app,d,UP 1/3,0\nbe_app,BACKEND,UP,9\nother,e,DOWN,5\n'
                                  'be_app,f,DOWN,\n')
    assert haproxy.down_for(rows, 'be_app') == {'b': 42, 'c': 7, 'f': 0}
    assert haproxy.server_stats(rows, 'be_app')['a']['down_for'] is None


def test_servers_state_admin_and_operational_state():
    servers = haproxy.parse_servers_state(SERVERS_STATE)
    assert servers['s1'] == {'addr': '10.0.0.2', 'port': 8080, 'op_state': 'running', 'admin': 'ready', 'up': True,
                             'weight': 100, 'check_health': 4}
    assert servers['s2']['admin'] == 'drain' and servers['s2']['weight'] == 0
    assert servers['s3']['admin'] == 'maint' and not servers['s3']['up']


def test_empty_backend():
    assert haproxy.parse_servers_state('1\n# be_id be_name srv_id srv_name\n\n') == {}


def test_garbage_is_an_error():
    with pytest.raises(HAProxyError):
        haproxy.parse_stat_csv('Unknown command\n')


class FakeHAProxy:
    """A TCP server answering runtime-API command lines from a dict, recording what it got."""

    def __init__(self, answers):
        self.answers = answers
        self.received = []
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile('rb').readline().decode().strip()
                self.received.append(line)
                answer = self.answers.get(line.split(' ')[0] + ' ' + line.split(' ')[1], '\n')
                conn.sendall(answer.encode())

    def close(self):
        self.sock.close()


@pytest.fixture
def fake():
    server = FakeHAProxy({'add server': 'New server registered.\n\n', 'del server': 'Server deleted.\n',
                          'show info': 'Name: HAProxy\nVersion: 2.6.12\n', 'show stat': STAT_HEADER + STAT_ROWS,
                          'show servers': SERVERS_STATE})
    yield server
    server.close()


def test_add_server_with_checks_then_enable_health(fake):
    api = RuntimeAPI('127.0.0.1', fake.port)
    api.add_server('web-r2-abc', '10.0.0.5', 8080, 100, {'inter': 1, 'rise': 2, 'fall': 3})
    assert fake.received == ['add server be_app/web-r2-abc 10.0.0.5:8080 weight 100 check inter 1000ms rise 2 fall 3',
                             'enable health be_app/web-r2-abc']


def test_one_line_switch(fake):
    api = RuntimeAPI('127.0.0.1', fake.port)
    api.apply([('weight', 'g1', 100), ('state', 'b1', 'drain')])
    assert fake.received == ['set weight be_app/g1 100; set server be_app/b1 state drain']


def test_reading_merges_state_and_counters(fake):
    api = RuntimeAPI('127.0.0.1', fake.port)
    api.wait_ready(timeout=1)
    servers = api.servers()
    assert servers['s1']['admin'] == 'ready' and servers['s1']['responses'] == 40
    api.del_server('s3')


def test_refusals_raise_with_haproxys_words():
    server = FakeHAProxy({'set server': 'No such server.\n\n', 'add server':
                          'Already exists a server with the same name in backend.\n\n',
                          'del server': 'Only servers in maintenance mode can be deleted.\n'})
    try:
        api = RuntimeAPI('127.0.0.1', server.port)
        with pytest.raises(HAProxyError, match='No such server'):
            api.set_state('nope', 'ready')
        with pytest.raises(HAProxyError, match='Already exists'):
            api.add_server('s1', '10.0.0.1', 8080, 100)
        with pytest.raises(HAProxyError, match='maintenance'):
            api.del_server('s1')
        with pytest.raises(HAProxyError, match='not one of'):
            api.set_state('s1', 'up')
        with pytest.raises(HAProxyError, match='valid HAProxy server name'):
            api.set_weight('a b', 1)
    finally:
        server.close()


def test_unreachable_api_is_an_error():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(HAProxyError, match='did not answer'):
        RuntimeAPI('127.0.0.1', port, timeout=1).execute('show info')

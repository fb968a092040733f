"""Process and socket facts read straight from the kernel, checked against the
kernel's other interfaces."""

import os
import socket

import psutil
import pytest

from mdlp_agents import procfacts

pytestmark = pytest.mark.inprocess


def test_listener_lookup_netlink_agrees_with_proc_net_tcp():
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    v4.listen(1)
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen(1)
    try:
        for sock in (v4, v6):
            port = sock.getsockname()[1]
            expected = {str(os.fstat(sock.fileno()).st_ino)}
            assert procfacts._listeners_netlink(port) == expected
            assert procfacts._listeners_proc(port) == expected
            assert procfacts.holders(expected, [os.getpid()]) == [os.getpid()]
        connected = socket.create_connection(v4.getsockname())  # not a listener: not found
        assert str(os.fstat(connected.fileno()).st_ino) not in procfacts.listener_inodes(
            connected.getsockname()[1])
        connected.close()
    finally:
        v4.close()
        v6.close()


def test_proc_stat_agrees_with_psutil():
    me = psutil.Process()
    stat = procfacts.ProcStat(os.getpid())
    assert stat.comm == me.name()[:15]
    assert abs(stat.started - me.create_time()) < 1.5
    assert stat.state == "R" and not stat.dead

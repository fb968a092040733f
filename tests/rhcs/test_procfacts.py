"""Process and socket facts read straight from the kernel, checked against the
kernel's other interfaces."""

import os
import socket

import psutil
import pytest

from mdlp_agents.rhcs import procfacts

pytestmark = pytest.mark.inprocess


def _inode(sock):
    return str(os.fstat(sock.fileno()).st_ino)


def test_listener_lookup_netlink_agrees_with_proc_net_tcp():
    v4 = socket.socket()
    v4.bind(("127.0.0.1", 0))
    v4.listen(1)
    v6 = socket.socket(socket.AF_INET6)
    v6.bind(("::1", 0))
    v6.listen(1)
    try:
        for sock, address in ((v4, "127.0.0.1"), (v6, "::1")):
            port = sock.getsockname()[1]
            packed = socket.inet_pton(sock.family, address)
            expected = [(sock.family, packed, _inode(sock))]
            assert procfacts._listeners_netlink(port) == expected
            assert procfacts._listeners_proc(port) == expected
            assert procfacts.listener_inodes(port, address) == {_inode(sock)}
            assert procfacts.holders({_inode(sock)}, [os.getpid()]) == [os.getpid()]
        connected = socket.create_connection(v4.getsockname())  # not a listener: not found
        assert _inode(connected) not in procfacts.listener_inodes(connected.getsockname()[1], "127.0.0.1")
        connected.close()
    finally:
        v4.close()
        v6.close()


def test_listener_lookup_follows_the_address_not_just_the_port():
    """Two programs on one port, different addresses: each address has its own listener; a
    wildcard listener counts only where no listener is bound to the address itself."""
    first = socket.socket()
    first.bind(("127.0.0.1", 0))
    first.listen(1)
    port = first.getsockname()[1]
    second = socket.socket()
    second.bind(("127.0.0.2", port))
    second.listen(1)
    wildcard = socket.socket(socket.AF_INET6)
    wildcard.bind(("::", 0))
    wildcard.listen(1)
    try:
        for lookup in (procfacts._listeners_netlink, procfacts._listeners_proc):
            assert sorted(i for _, _, i in lookup(port)) == sorted([_inode(first), _inode(second)])
        assert procfacts.listener_inodes(port, "127.0.0.1") == {_inode(first)}
        assert procfacts.listener_inodes(port, "127.0.0.2") == {_inode(second)}
        assert procfacts.listener_inodes(port, "::ffff:127.0.0.2") == {_inode(second)}
        assert procfacts.listener_inodes(port, "127.0.0.3") == set()
        other = wildcard.getsockname()[1]
        assert procfacts.listener_inodes(other, "127.0.0.5") == {_inode(wildcard)}   # dual-stack ::
        assert procfacts.listener_inodes(other, "::1") == {_inode(wildcard)}
    finally:
        for sock in (first, second, wildcard):
            sock.close()


def test_proc_stat_agrees_with_psutil():
    me = psutil.Process()
    stat = procfacts.ProcStat(os.getpid())
    assert stat.comm == me.name()[:15]
    assert abs(stat.started - me.create_time()) < 1.5
    assert stat.state == "R" and not stat.dead

"""Process facts: is a service's process alive, itself, and not hung?

- a zombie is dead;
- a process in the stopped state (SIGSTOP, `T`, or traced `t`) is hung;
- a pidfile counts only when its PID is alive, is the named process, and was
  not started after the pidfile was written (PID reuse).

The cluster runs this every 30 s, so the healthy path reads /proc/PID/stat
itself (one read per process: name, state, start time) and does not import
psutil, whose import alone costs more than the whole check (bench/status).
psutil serves the rarer paths: finding a port's owner, a process's children.
A scan of the whole process table is needed only for services known by name
alone; its result (PIDs and start times) is remembered between runs, so a
healthy check on a host with thousands of processes re-reads a few files.
"""

import _socket
import os
import struct

from ..common.files import open_regular
from ..common.procfs import CLK_TCK, HUNG_STATES, ProcStat, boot_time, name_matches
from .results import FAILED, HUNG, STALE, STOPPED, ProbeResult

# A process's start time is the boot time (whole seconds) plus clock ticks, so it
# can look up to a second later than it was: a pidfile written at once by the new
# process may seem a little older than its process.
_START_SLACK = 2.0
# How long a remembered process-table scan is trusted before a full rescan.
SCAN_MAX_AGE = 300.0


def check_pidfile(path, name=None, uid=None):
    """The pidfile probe (with the process-name check when NAME is given, the owner
    check when UID is)."""
    try:
        with open_regular(path) as handle:   # a FIFO planted here must not hang the probe
            text = handle.read(64).decode("ascii", "replace")
            written = os.fstat(handle.fileno()).st_mtime
    except FileNotFoundError:
        return ProbeResult(False, "pidfile", STOPPED, "pidfile %s does not exist" % path)
    except OSError as exc:
        return ProbeResult(False, "pidfile", FAILED, "cannot read pidfile %s: %s" % (path, exc.strerror))
    fields = text.split()
    if not fields or not fields[0].isdigit() or int(fields[0]) <= 0:
        return ProbeResult(False, "pidfile", STALE, "pidfile %s holds no PID" % path)
    pid = int(fields[0])
    try:
        stat = ProcStat(pid)
    except (OSError, ValueError, IndexError):
        return ProbeResult(False, "pidfile", STALE, "pid %d from %s is not running (stale pidfile)" % (pid, path))
    if stat.dead:
        return ProbeResult(False, "pidfile", STALE, "pid %d from %s is a zombie (dead, not reaped)" % (pid, path))
    if name and not name_matches(stat, name):
        return ProbeResult(False, "pidfile", STALE, "pid %d from %s is now %r, not %s (stale pidfile, PID reused)"
                           % (pid, path, stat.comm, name))
    if uid is not None and stat.uid != uid:
        return ProbeResult(False, "pidfile", STALE, "pid %d from %s belongs to uid %s, not %d (stale pidfile, "
                           "PID reused)" % (pid, path, stat.uid, uid))
    started = stat.started
    # PID reuse: the process started after its pidfile was written.  The start time is
    # the boot time plus ticks, and the kernel moves the boot time when the clock is
    # stepped (NTP at boot): only a gap beyond any plausible step counts, or a pidfile
    # left from before this boot.
    if started > written + _START_SLACK or written < boot_time() - _START_SLACK:
        return ProbeResult(False, "pidfile", STALE,
                           "pid %d started after %s was written (stale pidfile, PID reused)" % (pid, path))
    if stat.state in HUNG_STATES:
        return ProbeResult(False, "pidfile", HUNG, "pid %d is %s" % (pid, HUNG_STATES[stat.state]),
                           pid=pid, started=started, pids=(pid,))
    return ProbeResult(True, "pidfile", pid=pid, started=started, pids=(pid,))


def check_process(name, stats, uid=None):
    """The process probe, from the [ProcStat] of the processes named NAME (and owned by
    UID when given: anybody can name a process PolicyEngine)."""
    alive, zombies, hung, foreign = [], 0, [], 0
    for stat in stats:
        if uid is not None and stat.uid != uid:
            foreign += 1
            continue
        if stat.dead:
            zombies += 1
            continue
        alive.append((stat.ticks, stat.pid))
        if stat.state in HUNG_STATES:
            hung.append((stat.pid, stat.state))
    if not alive:
        detail = "no process named %s" % name
        if uid is not None:
            detail += " owned by uid %d" % uid
        if zombies:
            detail += " (only %d zombie%s)" % (zombies, "s" if zombies > 1 else "")
        if foreign:
            detail += " (%d of another user)" % foreign
        return ProbeResult(False, "process", STOPPED, detail)
    alive.sort()
    ticks, pid = alive[0]  # the oldest: the master of a pre-forking daemon
    started = boot_time() + ticks / CLK_TCK
    pids = tuple(p for _, p in alive)
    if hung:
        bad_pid, state = hung[0]
        return ProbeResult(False, "process", HUNG, "%s pid %d is %s" % (name, bad_pid, HUNG_STATES[state]),
                           pid=pid, started=started, pids=pids)
    return ProbeResult(True, "process", pid=pid, started=started, pids=pids)


def listener_inodes(port, address):
    """Inodes of the TCP sockets that accept connections to ADDRESS:PORT, as `ss -ltn` finds
    listeners: the ones bound to that very address, else (only where there are none, as the
    kernel chooses) the wildcard ones.  A program listening on another address with the same
    port is not the one we reached.  A sock_diag netlink dump of listeners only, which stays
    fast on a proxy with thousands of connections (/proc/net/tcp walks every one of them,
    and every empty hash bucket: 11 ms on an idle 24 GiB host)."""
    try:
        listeners = _listeners_netlink(port)
    except OSError:
        listeners = _listeners_proc(port)
    wanted = _packed(address)
    exact, wildcard = set(), set()
    for family, bound, inode in listeners:
        bound = _unmapped(family, bound)
        if bound == wanted:
            exact.add(inode)
        elif bound in (_ANY4, _ANY6) and (bound == _ANY6 or len(wanted) == 4):
            wildcard.add(inode)
    return exact or wildcard


_ANY4, _ANY6 = bytes(4), bytes(16)
_V4_MAPPED = bytes(10) + b"\xff\xff"


def _packed(address):
    """An address as bytes: 4 for IPv4 (also an IPv4-mapped IPv6 address), 16 for IPv6."""
    address = address.partition("%")[0]
    if ":" in address:
        return _unmapped(_socket.AF_INET6, _socket.inet_pton(_socket.AF_INET6, address))
    return _socket.inet_pton(_socket.AF_INET, address)


def _unmapped(family, packed):
    return packed[12:] if len(packed) == 16 and packed.startswith(_V4_MAPPED) else packed


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST_DUMP = 0x301
_NLMSG_DONE, _NLMSG_ERROR = 3, 2
_TCPF_LISTEN = 1 << 10


def _listeners_netlink(port):
    """[(family, bound address bytes, inode)] of the TCP listeners on PORT."""
    found = []
    for family, size in ((_socket.AF_INET, 4), (_socket.AF_INET6, 16)):
        # struct inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid
        request = struct.pack("=BBBBI", family, _socket.IPPROTO_TCP, 0, 0, _TCPF_LISTEN) + bytes(48)
        header = struct.pack("=IHHII", 16 + len(request), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST_DUMP, 1, 0)
        sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG)
        try:
            sock.settimeout(1.0)
            sock.send(header + request)
            done = False
            while not done:
                data = sock.recv(65536)
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind in (_NLMSG_DONE, _NLMSG_ERROR) or length < 16:
                        done = True
                        break
                    # struct inet_diag_msg: 4 bytes, then sockid: sport (big-endian), dport,
                    # src[16] at 8, dst[16], if, cookie; ...; inode at 68
                    (sport,) = struct.unpack_from(">H", data, offset + 16 + 4)
                    if sport == port:
                        (inode,) = struct.unpack_from("=I", data, offset + 16 + 68)
                        bound = bytes(data[offset + 16 + 8:offset + 16 + 8 + size])
                        found.append((family, bound, str(inode)))
                    offset += (length + 3) & ~3
                if not data:
                    break
        finally:
            sock.close()
    return found


def _listeners_proc(port):
    found = []
    for table, family in (("/proc/net/tcp", _socket.AF_INET), ("/proc/net/tcp6", _socket.AF_INET6)):
        try:
            with open(table) as handle:
                next(handle, None)
                for line in handle:
                    fields = line.split()
                    if len(fields) >= 10 and fields[3] == "0A":
                        hex_address, _, hex_port = fields[1].rpartition(":")
                        if int(hex_port, 16) == port:
                            # the address as the kernel holds it, printed as native 32-bit words
                            bound = b"".join(struct.pack("=I", int(hex_address[i:i + 8], 16))
                                             for i in range(0, len(hex_address), 8))
                            found.append((family, bound, fields[9]))
        except OSError:
            continue
    return found


def holders(inodes, pids):
    """Which of PIDS hold one of the socket INODES open; None if we may not look
    (an admin's own account cannot read root's /proc/PID/fd: unknown, not "no")."""
    targets = {"socket:[%s]" % inode for inode in inodes}
    held = []
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            return None
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd_dir + "/" + fd) in targets:
                    held.append(pid)
                    break
            except OSError:
                continue
    return held


def children(pids):
    import psutil
    result = []
    for pid in pids:
        try:
            result.extend(child.pid for child in psutil.Process(pid).children(recursive=True))
        except psutil.Error:
            continue
    return result


def owner_of(inodes):
    """(pid, name) of some process holding one of INODES, for the error message."""
    import psutil
    for proc in psutil.process_iter():
        if holders(inodes, (proc.pid,)):
            try:
                return proc.pid, proc.name()
            except psutil.Error:
                return proc.pid, "?"
    return None


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass

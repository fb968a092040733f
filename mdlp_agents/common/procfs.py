"""The process table, read the cheap way: /proc/PID/stat once per process (name, state, start
time), executables' names only where comm does not settle it.  What mdlp_rhcs's probes and
mdlp-cluster's checks (is the system's atd running?) both need; psutil is imported by neither
path (its import alone costs more than a whole healthy check)."""

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")
DEAD_STATES = ("Z", "X", "x")
HUNG_STATES = {"T": "stopped (SIGSTOP): hung", "t": "stopped by a tracer: hung"}

_boot_time = None


def boot_time():
    global _boot_time
    if _boot_time is None:
        with open("/proc/stat", "rb") as handle:
            for line in handle:
                if line.startswith(b"btime "):
                    _boot_time = float(line.split()[1])
                    break
    return _boot_time


class ProcStat:
    """The fields of /proc/PID/stat we use.  Raises OSError if PID is gone."""

    __slots__ = ("pid", "comm", "state", "ticks")

    def __init__(self, pid):
        with open("/proc/%d/stat" % pid, "rb") as handle:
            data = handle.read()
        close = data.rindex(b")")
        self.pid = pid
        self.comm = data[data.index(b"(") + 1:close].decode("utf-8", "replace")
        fields = data[close + 2:].split()
        self.state = fields[0].decode()
        self.ticks = int(fields[19])

    @property
    def started(self):
        return boot_time() + self.ticks / CLK_TCK

    @property
    def dead(self):
        return self.state in DEAD_STATES

    @property
    def uid(self):
        """The owner of /proc/PID: the process's effective user."""
        try:
            return os.stat("/proc/%d" % self.pid).st_uid
        except OSError:
            return None


def _basename(link):
    try:
        target = os.readlink(link)
    except OSError:
        return None
    if target.endswith(" (deleted)"):
        target = target[:-10]
    return os.path.basename(target)


def _argv0_basename(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv0 = handle.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
    except OSError:
        return None
    return os.path.basename(argv0)


def name_matches(stat, name):
    """comm, or the executable's basename; a name longer than the 15 characters
    the kernel keeps of comm is confirmed from argv[0]."""
    if stat.comm == name[:15]:
        if len(name) <= 15 or _argv0_basename(stat.pid) == name:
            return True
    return _basename("/proc/%d/exe" % stat.pid) == name


def scan(names):
    """One pass over the process table: {name: [ProcStat, ...]} for every NAME.

    Matching is on comm first (one read of /proc/PID/stat each); executables'
    basenames are read in a second pass only for names that matched nothing."""
    wanted = {name[:15]: name for name in names}
    found = {name: [] for name in names}
    pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    for pid in pids:
        try:
            stat = ProcStat(pid)
        except (OSError, ValueError, IndexError):
            continue
        full = wanted.get(stat.comm)
        if full is not None and name_matches(stat, full):
            found[full].append(stat)
    missing = {name for name, procs in found.items() if not procs}
    if missing:
        for pid in pids:
            base = _basename("/proc/%d/exe" % pid)
            if base in missing:
                try:
                    found[base].append(ProcStat(pid))
                except (OSError, ValueError, IndexError):
                    continue
    return found


def revalidate(name, remembered):
    """[ProcStat] of the remembered [(pid, start ticks)] of NAME that are still the
    same processes, or None when the oldest of them (the master) is gone: then scan."""
    still = []
    for pid, ticks in sorted(remembered, key=lambda item: item[1]):
        try:
            stat = ProcStat(pid)
        except (OSError, ValueError, IndexError):
            stat = None
        if stat is not None and stat.ticks == ticks and name_matches(stat, name):
            still.append(stat)
        elif not still:
            return None
    return still



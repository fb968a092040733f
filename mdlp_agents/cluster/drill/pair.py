"""The pair as the drill acts on it: this node (the drill's clock) and its partner, reached through
the admin's own OpenSSH (BatchMode: never a prompt).  Every call is bounded; what comes back from
the partner is checked for its shape before it is believed."""

import re
import shlex
import time

from ...common.errors import AgentError
from ...common.files import find_program
from ..stacks.runner import LOCAL, SshRunner, last_line

BOOT_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CLUSTER_PORTS = "5404:5412"     # corosync: udp 5404-5405 (rgmanager's openais, knet's link 0) and more links
SIGNALS = {"KILL", "STOP", "CONT"}


class Unreachable(AgentError):
    """A node the drill cannot act on (ssh fails, a command hangs): exit 4 if a step was under way."""

    exit_code = 4


class Pair:
    """ME (this node's cluster name) and PEER (the other's), PEER reached at TARGET (its name, or
    --peer's address)."""

    def __init__(self, me, peer, target=None, timeout=10.0):
        self.me, self.peer, self.timeout = me, peer, timeout
        self.target = target or peer
        ssh = find_program("ssh")
        self.runners = {me: LOCAL}
        if peer:
            self.runners[peer] = SshRunner(self.target, ssh, min(timeout, 5)) if ssh else None

    def other(self, node):
        return self.peer if node == self.me else self.me

    def run(self, node, argv, timeout=None):
        runner = self.runners.get(node)
        if runner is None:
            raise Unreachable("cannot reach %s: ssh is not installed here" % node)
        proc = runner(argv, timeout or self.timeout, Unreachable)
        if runner is not LOCAL and proc.returncode == 255:
            raise Unreachable("ssh %s: %s" % (self.target, last_line(proc)))
        return proc

    def boot_id(self, node, timeout=None):
        """NODE's kernel boot id (a new one after every boot), or None when it does not answer."""
        try:
            proc = self.run(node, ["cat", "/proc/sys/kernel/random/boot_id"], timeout)
        except Unreachable:
            return None
        value = proc.stdout.strip()
        return value if proc.returncode == 0 and BOOT_ID.match(value) else None

    def clock_offset(self, node):
        """(NODE's clock minus ours, the uncertainty): seconds, from one `date` over ssh."""
        if node == self.me:
            return 0.0, 0.0
        before = time.time()
        proc = self.run(node, ["date", "+%s.%N"])
        after = time.time()
        text = proc.stdout.strip()
        if proc.returncode != 0 or not re.fullmatch(r"[0-9]{1,12}\.[0-9]{1,9}", text):
            raise Unreachable("%s: `date` answered %r" % (node, text[:40]))
        return float(text) - (before + after) / 2, (after - before) / 2

    def signal(self, node, process, sig):
        """Send SIG (KILL, STOP, CONT) to every process named PROCESS on NODE: how many got it."""
        if sig not in SIGNALS or not re.fullmatch(r"[A-Za-z0-9_.-]{1,15}", process):
            raise ValueError("not a signal or process name the drill sends")
        proc = self.run(node, ["pkill", "-e", "-" + sig, "-x", process])
        if proc.returncode not in (0, 1):
            raise Unreachable("pkill on %s: %s" % (node, last_line(proc)))
        return len([line for line in proc.stdout.splitlines() if line.strip()])

    # -- the partition rule -------------------------------------------------------------------
    @staticmethod
    def _rules(token):
        comment = "mdlp-drill-" + token
        return [[chain, "-p", "udp", "-m", "multiport", "--ports", CLUSTER_PORTS, "-m", "comment",
                 "--comment", comment, "-j", "DROP"] for chain in ("INPUT", "OUTPUT")]

    def cut(self, node, token, undo_after):
        """Drop the cluster's traffic on NODE, with a timer there that removes the rule after
        UNDO_AFTER seconds even if the drill dies (systemd-run where systemd runs, else a detached
        shell).  TOKEN: [0-9a-f]+, names the rule."""
        if not re.fullmatch(r"[0-9a-f]{6,32}", token):
            raise ValueError("not a drill token")
        removal = "; ".join("iptables -D %s" % " ".join(shlex.quote(w) for w in rule) for rule in self._rules(token))
        seconds = max(1, int(undo_after))
        timer = ("if [ -d /run/systemd/system ] && command -v systemd-run >/dev/null; then "
                 "systemd-run --quiet --unit=mdlp-drill-%s --on-active=%d /bin/sh -c %s; "
                 "else setsid /bin/sh -c %s </dev/null >/dev/null 2>&1 & fi"
                 % (token, seconds, shlex.quote(removal), shlex.quote("sleep %d; %s" % (seconds, removal))))
        insert = " && ".join("iptables -I %s" % " ".join(shlex.quote(w) for w in rule) for rule in self._rules(token))
        proc = self.run(node, ["/bin/sh", "-c", "%s && { %s; }" % (insert, timer)])
        if proc.returncode != 0:
            raise Unreachable("cannot cut %s's cluster traffic: %s" % (node, last_line(proc)))

    def heal(self, node, token):
        """Remove the rule named TOKEN on NODE (and its timer): True when none is left."""
        removal = "; ".join("while iptables -D %s 2>/dev/null; do :; done" % " ".join(shlex.quote(w) for w in rule)
                            for rule in self._rules(token))
        stop_timer = "systemctl stop mdlp-drill-%s.timer >/dev/null 2>&1" % token
        check = "! iptables -S | grep -q -- %s" % shlex.quote("mdlp-drill-" + token)
        proc = self.run(node, ["/bin/sh", "-c", "%s; %s; %s" % (removal, stop_timer, check)])
        return proc.returncode == 0

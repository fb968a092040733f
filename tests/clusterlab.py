"""A lab of real Pacemaker + corosync nodes on one machine, for the cluster tests.

Each node is a network namespace plus its own mount, UTS and PID namespaces:
its hostname, its /run, /dev/shm, /etc/corosync, /var/lib/pacemaker and logs are
its own, and killing the PID namespace's init is a power cut.  Nodes reach each
other over veth heartbeat links and reach the lab -- a namespace with a bridge
for the client-facing network, where the simulated BMCs (ipmi_sim) and the
clients live -- over their eth0.  Nothing is installed on the host: inside each
node an overlay adds our agent as ocf:websense:mdlp and /usr/sbin/fence_mdlp.

Addresses (all inside namespaces this module creates):
  client network 198.18.10.0/24: lab .1, nodes .11-.14, floating IPs .101-.102,
  BMCs .201-.204 (on the lab bridge); heartbeat links 198.19.N.0/24.
"""

import contextlib
import copy
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CLIENT_NET = "198.18.10"
import helpers  # noqa: E402

from platform_under_test import BIN_DIR  # noqa: E402

PASSWORD = "bmc-cluster-s3cret"
PACEMAKER_DIRS = ("cib", "pengine", "blackbox", "cores")


class LabError(RuntimeError):
    pass


def sh(*argv, check=True, timeout=30, **kw):
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise LabError("%s: rc=%d %s" % (" ".join(map(str, argv)), proc.returncode,
                                         (proc.stderr or proc.stdout).strip()[-400:]))
    return proc


def wait_until(what, predicate, timeout, interval=0.2):
    """Poll PREDICATE until it returns a true value; raise LabError naming WHAT after TIMEOUT."""
    return helpers.wait_until(what, predicate, timeout, interval, error=LabError)


# Node "hardware": the lab's power switch.  The BMC simulator runs it as its
# chassis_control program, and the tests use it to boot nodes, so a fence
# agent's "off" is a real power cut of that node.
POWER_SCRIPT = r"""#!/bin/sh
# power NODE on|off|status   (also called by ipmi_sim: power NODE get|set power|reset ...)
lab=%(lab)s
node=$1; shift
ns=%(prefix)s-$node
dir=$lab/$node
state=$dir/power
mkdir -p $dir
echo "$(date +%%s.%%N) $*" >> $dir/chassis.log
if [ ! -e $dir/boot.sh ]; then   # a machine outside the lab: only its power state
    case "$*" in
      "set power "[01]) echo $3 > $state ;;
      "get power"|status) echo "power:$(cat $state 2>/dev/null || echo 1)" ;;
    esac
    exit 0
fi
off() {
    # a node still in its POST (post-seconds) does not boot after all
    if [ -e $dir/posting ]; then p=$(cat $dir/posting); rm -f $dir/posting; kill $p 2>/dev/null; fi
    pids=$(ip netns pids $ns 2>/dev/null)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    i=0
    while [ -n "$(ip netns pids $ns 2>/dev/null)" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
    for dev in eth0 $(cat $dir/links 2>/dev/null); do ip -n $ns link set $dev down 2>/dev/null; done
    echo 0 > $state
}
on() {
    [ "$(cat $state 2>/dev/null)" = 1 ] && { [ -n "$(ip netns pids $ns 2>/dev/null)" ] || [ -e $dir/posting ]; } \
        && return 0
    # a cold boot: no floating address survives, links come up with the node's own addresses
    ip -n $ns addr flush dev eth0
    ip -n $ns addr add $(cat $dir/eth0.addr) dev eth0
    for dev in lo eth0 $(cat $dir/links 2>/dev/null); do ip -n $ns link set $dev up; done
    rm -rf $dir/run-state; mkdir -p $dir/run-state
    echo 1 > $state
    # the machine's POST: $dir/post-seconds (none: it boots at once), powered on all the while
    post=$(cat $dir/post-seconds 2>/dev/null || echo 0)
    if [ "$post" != 0 ]; then
        setsid sh -c "sleep $post & echo \$! > $dir/posting; wait; [ -e $dir/posting ] || exit 0; rm -f $dir/posting
            exec ip netns exec $ns unshare --mount --uts --pid --fork --mount-proc --propagation private \
            $dir/boot.sh" </dev/null >>$dir/console.log 2>&1 &
        return 0
    fi
    setsid ip netns exec $ns unshare --mount --uts --pid --fork --mount-proc --propagation private \
        $dir/boot.sh </dev/null >>$dir/console.log 2>&1 &
}
case "$*" in
  "on"|"set power 1") on ;;
  "off"|"set power 0") off ;;
  "set reset 1") off; on ;;
  "status"|"get power") echo "power:$(cat $state 2>/dev/null || echo 0)" ;;
esac
exit 0
"""

# A node has no systemd: the one thing asked of systemctl there (the drill restarting a cluster stack
# that stopped itself) is done as boot.sh does it -- corosync first (pacemaker.service requires it),
# then pacemakerd; anything else is refused.
SYSTEMCTL_SCRIPT = r"""#!/bin/sh
case "$*" in
  "start pacemaker"|"start pacemaker.service")
    # as systemd: a stack stopping itself finishes first (its pacemakerd, then its corosync, exit), then
    # corosync, then pacemakerd; done when both have run together for 3 s (at most 20 s)
    export PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none
    up=0
    for i in $(seq 200); do
        if ! pgrep -x corosync >/dev/null; then
            setsid corosync -f </dev/null >>/var/log/corosync/stdout.log 2>&1 &
        fi
        if corosync-cfgtool -s >/dev/null 2>&1 && ! pgrep -x pacemakerd >/dev/null; then
            setsid /usr/sbin/pacemakerd </dev/null >>/var/log/pacemaker/stdout.log 2>&1 &
        fi
        if pgrep -f pacemaker-controld >/dev/null && corosync-cfgtool -s >/dev/null 2>&1; then
            up=$((up + 1)); [ $up -ge 30 ] && exit 0
        else
            up=0
        fi
        sleep 0.1
    done
    exit 1 ;;
esac
echo "systemctl (lab node): $*: not supported here" >&2
exit 1
"""

BOOT_SCRIPT = r"""#!/bin/bash
# PID 1 of node %(node)s: its own /run, shared memory, cluster directories; then
# corosync and pacemakerd; then reap orphans until the power goes.
set -e
dir=%(dir)s
hostname %(node)s
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock /run/crm /run/mdlp-test/www
chown hacluster:haclient /run/crm
echo "served by %(node)s" > /run/mdlp-test/www/index.html
mount -t tmpfs tmpfs /dev/shm
# a boot id of its own at every boot, as a machine has (the kernel's is the host's): the drill's
# proof that a fenced node really rebooted
cat /proc/sys/kernel/random/uuid > /run/boot_id
mount --bind /run/boot_id /proc/sys/kernel/random/boot_id
# its own /etc and /root (hosts, /etc/mdlp_agents, root's ssh keys): the host's, with the node's changes on top
mount -t overlay overlay -o lowerdir=/etc,upperdir=$dir/etc-upper,workdir=$dir/etc-work /etc
mount -t overlay overlay -o lowerdir=/root,upperdir=$dir/root-upper,workdir=$dir/root-work /root
mount --bind $dir/etc-corosync /etc/corosync
mount --bind $dir/var-lib-pacemaker /var/lib/pacemaker
mount --bind $dir/var-lib-corosync /var/lib/corosync
mount --bind $dir/log-pacemaker /var/log/pacemaker
mount --bind $dir/log-corosync /var/log/corosync
mount -t overlay overlay -o lowerdir=%(lab)s/overlay/sbin:/usr/sbin /usr/sbin
mount -t overlay overlay -o lowerdir=%(lab)s/overlay/ocf:/usr/lib/ocf/resource.d /usr/lib/ocf/resource.d
set +e
# its sshd, as a machine starts it at boot, once a test gave it one (start_sshd)
if [ -e $dir/sshd.conf ]; then mkdir -p /run/sshd; /usr/sbin/sshd -f $dir/sshd.conf -E $dir/sshd.log; fi
export PCMK_logfile=/var/log/pacemaker/pacemaker.log PCMK_logfacility=none
corosync -f >/var/log/corosync/stdout.log 2>&1 &
for i in $(seq 100); do corosync-cfgtool -s >/dev/null 2>&1 && break; sleep 0.1; done
/usr/sbin/pacemakerd >/var/log/pacemaker/stdout.log 2>&1 &
while :; do wait; sleep 0.5; done
"""

COROSYNC_CONF = """totem {
    version: 2
    cluster_name: %(cluster)s
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 1000
}

nodelist {
%(nodes)s
}

quorum {
    provider: corosync_votequorum
%(quorum)s
}

logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: no
    to_stderr: no
    timestamp: on
}
"""

NODE_ENTRY = """    node {
        name: %s
        nodeid: %d
        ring0_addr: %s
    }"""

# The services a node runs, as processes under their real names: httpd is a
# Python web server on port 80 serving a page that names the node; PolicyEngine
# and RProxyWD are sleeps.  A file /run/mdlp-test/broken-NAME makes NAME refuse
# to start on that node.
SERVICE_SCRIPT = r"""#!/bin/sh
name=$1
run=/run/mdlp-test
if [ -e $run/broken-$name ]; then
    echo "$name: cannot start on $(hostname)" >&2
    exit 1
fi
cd $run/www
case $name in
  httpd) setsid %(bin)s/httpd -m http.server 80 </dev/null >/dev/null 2>&1 & ;;
  *) setsid %(bin)s/$name 100000 </dev/null >/dev/null 2>&1 & ;;
esac
echo $! > $run/$name.pid
"""

AGENT_CONFIG = """# mdlp_rhcs on a lab node: the guide's three services, started and stopped by
# the agent, their pid files in the node's own /run
[agent]
deadline = 4
stop_policy = stop
start_timeout = 15
stop_timeout = 10

[service httpd]
process = httpd
pidfile = /run/mdlp-test/httpd.pid
tcp = 127.0.0.1:80
http = http://127.0.0.1:80/
start = %(lab)s/service httpd
stop = kill $(cat /run/mdlp-test/httpd.pid)
timeout = 2

[service PolicyEngine]
process = PolicyEngine
pidfile = /run/mdlp-test/PolicyEngine.pid
start = %(lab)s/service PolicyEngine
stop = kill $(cat /run/mdlp-test/PolicyEngine.pid)
timeout = 1

[service RProxyWD]
process = RProxyWD
pidfile = /run/mdlp-test/RProxyWD.pid
start = %(lab)s/service RProxyWD
stop = kill $(cat /run/mdlp-test/RProxyWD.pid)
timeout = 1
"""


# ipmi_sim's configuration for one simulated BMC (see test-environment.md)
LAN_CONF = """name "%(name)s"
set_working_mc 0x20
  startlan 1
    addr %(address)s %(port)d
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "%(chassis)s"
  user 2 true "admin" "%(password)s" admin 10 none md2 md5 straight
"""
EMU = """mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
"""


# This VM's kernel has no magic SysRq (no /proc/sysrq-trigger), and a node's /proc is the kernel's:
# a node's sshd runs every command through this shell (ForceCommand), which points the sysrq file at
# the node's own ($dir/sysrq, watched by Lab.watch_sysrq) -- what users' nodes do with "echo b >
# /proc/sysrq-trigger", done to the lab node.  Every other command runs as sshd would run it.
SYSRQ_SHELL = r"""#!/bin/sh
dir=$1
if [ -z "$SSH_ORIGINAL_COMMAND" ]; then exec /bin/sh -l; fi
case "$SSH_ORIGINAL_COMMAND" in
  *sysrq-trigger*)
    # as the kernel's: the write does not return (the watcher takes the power first)
    : >> $dir/sysrq
    /bin/sh -c "$(printf '%s' "$SSH_ORIGINAL_COMMAND" | sed "s|/proc/sysrq-trigger|$dir/sysrq|g")" || exit $?
    sleep 60
    exit 0 ;;
esac
exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"
"""


def sysrq_through_ssh(node):
    """sshd_config lines for start_sshd(): NODE's sysrq over ssh is its own (SYSRQ_SHELL)."""
    shell = node.dir / "sysrq-shell"
    shell.write_text(SYSRQ_SHELL)
    shell.chmod(0o755)
    return "ForceCommand %s %s" % (shell, node.dir)


SSHD_CONFIG = """ListenAddress 0.0.0.0
Port 22
HostKey %(dir)s/ssh_host_ed25519_key
PidFile /run/sshd.pid
AuthorizedKeysFile /root/.ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
%(extra)s
"""



def seed_ssh(lab, root, addresses):
    """Before the nodes boot: one root key pair for all of them (each node's /root/.ssh holds it and
    trusts it), a host key per node, known_hosts naming every node by name and by ADDRESSES[name]
    (the address ssh reaches it at).  start_sshd() then runs the node's sshd."""
    key = root / "root_key"
    if not key.exists():
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
    public, private = (root / "root_key.pub").read_text(), key.read_text()
    host_keys = {}
    for name in addresses:
        node = lab.nodes[name]
        ssh = node.dir / "root-upper" / ".ssh"
        ssh.mkdir(parents=True, exist_ok=True)
        ssh.chmod(0o700)
        (ssh / "id_ed25519").write_text(private)
        (ssh / "id_ed25519").chmod(0o600)
        (ssh / "authorized_keys").write_text(public)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", node.dir / "ssh_host_ed25519_key")
        host_keys[name] = (node.dir / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    known = "".join("%s,%s %s %s\n" % (addresses[n], n, *host_keys[n]) for n in addresses)
    for name in addresses:
        (lab.nodes[name].dir / "root-upper" / ".ssh" / "known_hosts").write_text(known)


def start_sshd(node, extra=""):
    """(Re)start NODE's sshd on port 22 of all its addresses, root's key only (and at every boot of
    the node from now on); EXTRA: more lines of sshd_config."""
    node.kill("sshd")
    config = node.dir / "sshd.conf"         # where the node's boot finds it again
    config.write_text(SSHD_CONFIG % {"dir": node.dir, "extra": extra})
    node.run("mkdir", "-p", "/run/sshd", check=True)
    node.run("/usr/sbin/sshd", "-f", config, "-E", node.dir / "sshd.log", check=True)


class Lab:
    """The client/BMC network and everything hanging off it; remove() undoes all."""

    def __init__(self, root, setup=True):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.prefix = "mdlp%s" % secrets.token_hex(2)
        self.ns = self.prefix + "-lab"
        self.nodes = {}
        self.clusters = []
        self.bmcs = {}
        self.namespaces = []
        self.links = 0
        self._sysrq = None
        if setup:
            self.setup()

    # --- the lab itself -------------------------------------------------------------
    def setup(self):
        for sub in ("overlay/sbin", "overlay/ocf/websense", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "overlay/sbin/fence_mdlp").symlink_to(BIN_DIR / "fence_mdlp")
        helpers.install_front(self.root / "overlay/ocf/websense/mdlp")   # the agent's default state_dir
        (self.root / "bin/httpd").symlink_to("/usr/bin/python3")
        for name in ("PolicyEngine", "RProxyWD"):
            (self.root / "bin" / name).symlink_to("/bin/sleep")
        systemctl = self.root / "overlay/sbin/systemctl"
        systemctl.write_text(SYSTEMCTL_SCRIPT)
        systemctl.chmod(0o755)
        self._script("power", POWER_SCRIPT % {"lab": self.root, "prefix": self.prefix})
        self._script("service", SERVICE_SCRIPT % {"bin": self.root / "bin"})
        self.agent_config = self.root / "mdlp_rhcs.conf"
        self.agent_config.write_text(AGENT_CONFIG % {"lab": self.root})
        self._netns(self.ns)
        sh("ip", "-n", self.ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.ns, "addr", "add", CLIENT_NET + ".1/24", "dev", "br0")
        for dev in ("lo", "br0"):
            sh("ip", "-n", self.ns, "link", "set", dev, "up")

    def _script(self, name, text):
        path = self.root / name
        path.write_text(text)
        path.chmod(0o755)
        return path

    def _netns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)

    def in_lab(self, *argv, timeout=30, check=False):
        """Run a command as a client on the lab network."""
        return sh("ip", "netns", "exec", self.ns, *argv, timeout=timeout, check=check)

    def fetch(self, address, timeout=2):
        """GET http://ADDRESS/ from the lab: the page (which names the node), or None."""
        proc = self.in_lab("/usr/bin/python3", "-c",
                           "import sys, urllib.request as u; sys.stdout.write(u.urlopen("
                           "'http://%s/', timeout=%s).read().decode())" % (address, timeout),
                           timeout=timeout + 5)
        return proc.stdout.strip() if proc.returncode == 0 else None

    # --- nodes ----------------------------------------------------------------------
    def add_cluster(self, name, node_names, config):
        """A cluster of NODE_NAMES (one or two) whose CIB starts as CONFIG (a Config)."""
        index = len(self.nodes)
        nodes = []
        for offset, node_name in enumerate(node_names):
            nodes.append(self._add_node(node_name, index + offset))
        if len(nodes) == 1:
            ring = {nodes[0].name: "127.0.0.1"}
        else:
            self.links += 1
            subnet = "198.19.%d" % self.links
            a, b = nodes
            sh("ip", "link", "add", "hb-" + self.prefix, "netns", a.ns, "type", "veth",
               "peer", "name", "hb0", "netns", b.ns)
            sh("ip", "-n", a.ns, "link", "set", "hb-" + self.prefix, "name", "hb0")
            for node, host in ((a, 1), (b, 2)):
                sh("ip", "-n", node.ns, "addr", "add", "%s.%d/24" % (subnet, host), "dev", "hb0")
                (node.dir / "links").write_text("hb0\n")
            ring = {a.name: subnet + ".1", b.name: subnet + ".2"}
        cluster = Cluster(self, name, nodes, ring, config)
        self.clusters.append(cluster)
        return cluster

    def _add_node(self, name, index):
        if name in self.nodes:
            raise LabError("node %s exists" % name)
        node = Node(self, name, index)
        self.nodes[name] = node
        return node

    def power(self, node, action):
        return sh(self.root / "power", node, action, timeout=30).stdout.strip()

    # --- BMCs -----------------------------------------------------------------------
    def add_bmc(self, node_name):
        """An ipmi_sim on the lab network whose chassis control powers NODE_NAME."""
        number = 201 + len(self.bmcs)
        bmc = Bmc(self, node_name, "%s.%d" % (CLIENT_NET, number))
        self.bmcs[node_name] = bmc
        return bmc

    # --- a node's sysrq ------------------------------------------------------------------
    def watch_sysrq(self):
        """A node's sysrq, as SYSRQ_SHELL gives it to ssh sessions: "b" (reboot) or "c" (crash) written
        to its file powers the node off at once and on again (it boots after its POST: post-seconds);
        "o" powers it off."""
        stop = threading.Event()

        def watch():
            while not stop.wait(0.05):
                for name, node in list(self.nodes.items()):
                    path = node.dir / "sysrq"
                    try:
                        text = path.read_text() if path.stat().st_size else ""
                    except OSError:
                        continue
                    if not text:
                        continue
                    path.write_text("")
                    if set(text) & set("bco"):
                        self.power(name, "off")
                        node.sysrq_seen.append((time.time(), text.strip()))
                    if set(text) & set("bc") and not stop.is_set():
                        self.power(name, "on")
        self._sysrq = stop
        threading.Thread(target=watch, name="lab-sysrq", daemon=True).start()

    # --- teardown ---------------------------------------------------------------------
    def remove(self):
        """Every step on its own: one that fails must not leave the rest running."""
        if self._sysrq is not None:
            self._sysrq.set()
        steps = [bmc.stop for bmc in self.bmcs.values()]
        steps += [lambda name=name: self.power(name, "off") for name in self.nodes]
        for step in steps:
            try:
                step()
            except Exception:   # noqa: BLE001 -- teardown goes on; the namespaces go below anyway
                pass
        for name in self.namespaces:
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
            sh("ip", "netns", "del", name, check=False)

    @contextlib.contextmanager
    def logs_on_error(self):
        """A lab that fails to come up says why: the node logs go with the error."""
        try:
            yield
        except LabError as exc:
            raise LabError("%s\n%s" % (exc, self.logs())) from None

    def logs(self, lines=60):
        """The tail of every node's Pacemaker and corosync logs, console and sshd log, and its processes,
        for a failed test."""
        out = []
        for node in self.nodes.values():
            for rel in ("log-corosync/corosync.log", "log-pacemaker/pacemaker.log", "console.log",
                        "chassis.log", "sshd.log"):
                path = node.dir / rel
                if path.exists():
                    text = path.read_text(errors="replace").splitlines()[-lines:]
                    out.append("==== %s %s ====" % (node.name, rel))
                    out.extend(text)
            try:        # what runs there now, and where each process waits
                ps = node.run("ps", "-eo", "pid,ppid,stat,wchan:24,etimes,args", "--cols", "200", timeout=10)
                out.append("==== %s processes ====" % node.name)
                out.extend(ps.stdout.splitlines())
            except (LabError, subprocess.SubprocessError):
                pass
        return "\n".join(out)


class Node:
    def __init__(self, lab, name, index):
        self.lab = lab
        self.name = name
        self.ns = "%s-%s" % (lab.prefix, name)
        self.address = "%s.%d" % (CLIENT_NET, 11 + index)
        self.dir = lab.root / name
        self.dir.mkdir(exist_ok=True)
        self.sysrq_seen = []            # (when, what) written to its /proc/sysrq-trigger (Lab.watch_sysrq)
        for sub in ("etc-corosync", "var-lib-corosync", "log-corosync", "log-pacemaker",
                    "var-lib-pacemaker", "etc-upper", "etc-work", "root-upper", "root-work"):
            (self.dir / sub).mkdir()
        # root's dotfiles of its own, not the host's: the host's ~/.bashrc runs pyenv's init in every
        # ssh session, whose rehash takes a lock file in ~/.pyenv; a power cut in it left the lock in
        # the node's /root, and every later ssh session there waited 60 s for it
        for dotfile in (".bashrc", ".profile"):
            (self.dir / "root-upper" / dotfile).write_text("# root on lab node %s\n" % name)
        for sub in PACEMAKER_DIRS:
            (self.dir / "var-lib-pacemaker" / sub).mkdir()
        sh("chown", "-R", "hacluster:haclient", self.dir / "var-lib-pacemaker", self.dir / "log-pacemaker")
        (self.dir / "eth0.addr").write_text(self.address + "/24\n")
        boot = self.dir / "boot.sh"
        boot.write_text(BOOT_SCRIPT % {"node": name, "dir": self.dir, "lab": lab.root})
        boot.chmod(0o755)
        lab._netns(self.ns)
        # eth0 on the lab's bridge
        sh("ip", "link", "add", "e-" + self.ns[-10:], "netns", self.ns, "type", "veth",
           "peer", "name", "p-" + name, "netns", lab.ns)
        sh("ip", "-n", self.ns, "link", "set", "e-" + self.ns[-10:], "name", "eth0")
        sh("ip", "-n", lab.ns, "link", "set", "p-" + name, "master", "br0", "up")

    def init_pid(self):
        """Host PID of the node's PID 1 (the boot script), or None when powered off."""
        for pid in sh("ip", "netns", "pids", self.ns, check=False).stdout.split():
            try:
                status = Path("/proc/%s/status" % pid).read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("NSpid:") and line.split()[-1] == "1" and len(line.split()) > 2:
                    return int(pid)
        return None

    def run(self, *argv, timeout=60, check=False, env=None):
        """Run a command on the node (all its namespaces)."""
        pid = self.init_pid()
        if pid is None:
            raise LabError("%s is powered off" % self.name)
        environ = dict(os.environ, LC_ALL="C", PYTHONWARNINGS="ignore")
        environ.update(env or {})
        return sh("nsenter", "-t", pid, "-n", "-m", "-u", "-p", *argv, timeout=timeout, check=check,
                  env=environ)

    def path(self, inside):
        """A path inside the node's mount namespace, seen from the host."""
        pid = self.init_pid()
        if pid is None:
            raise LabError("%s is powered off" % self.name)
        return Path("/proc/%d/root%s" % (pid, inside))

    def pids(self, comm):
        """Host PIDs of the node's processes named COMM."""
        found = []
        for pid in sh("ip", "netns", "pids", self.ns, check=False).stdout.split():
            try:
                if Path("/proc/%s/comm" % pid).read_text().strip() == comm:
                    found.append(int(pid))
            except OSError:
                pass
        return found

    def kill(self, comm, sig=signal.SIGKILL):
        pids = self.pids(comm)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:   # gone between the scan and the kill (pacemakerd's children
                pass                     # exit with it): killed all the same
        return pids

    def has_address(self, address):
        proc = sh("ip", "-n", self.ns, "-o", "addr", "show", "dev", "eth0", check=False)
        return (" %s/" % address) in proc.stdout

    @property
    def powered(self):
        return self.lab.power(self.name, "status") == "power:1"

    def crash_stack(self):
        """Kill the node's cluster stack (corosync and every Pacemaker daemon), not its services."""
        killed = []
        for comm in ("pacemakerd", "corosync", "pacemaker-based", "pacemaker-fenced", "pacemaker-execd",
                     "pacemaker-attrd", "pacemaker-schedulerd", "pacemaker-controld"):
            killed += self.kill(comm)
        return killed


class Bmc:
    """ipmi_sim for one node, listening on the lab network; its chassis control is the node's power."""

    def __init__(self, lab, node_name, address):
        self.lab = lab
        self.node = node_name
        self.address = address
        self.dir = lab.root / ("bmc-" + node_name)
        (self.dir / "state").mkdir(parents=True)
        sh("ip", "-n", lab.ns, "addr", "add", address + "/24", "dev", "br0")
        (self.dir / "lan.conf").write_text(LAN_CONF % {"name": node_name, "address": address, "port": 623,
                                                       "chassis": "%s %s" % (lab.root / "power", node_name),
                                                       "password": PASSWORD})
        (self.dir / "node.emu").write_text(EMU)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.lab.ns, "ipmi_sim", "-c", self.dir / "lan.conf",
                                      "-f", self.dir / "node.emu", "-s", self.dir / "state", "-n"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until("ipmi_sim for %s" % self.node,
                   lambda: self.ipmitool("chassis", "power", "status").returncode == 0, 10)

    def ipmitool(self, *command):
        return self.lab.in_lab("ipmitool", "-I", "lanplus", "-C", "3", "-H", self.address, "-U", "admin",
                               "-P", PASSWORD, *command, timeout=20)

    def freeze(self):
        """The BMC stops answering (its process stopped, its UDP port black-holes)."""
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()

    def log(self):
        """What the node's power switch was asked, in order: 'set power 0', 'set power 1', ..."""
        path = self.lab.root / self.node / "chassis.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.split(" ", 1)[1] for line in lines if " set " in line]

    def device_params(self, **extra):
        """fence_mdlp instance attributes for a stonith device that fences this node."""
        # power_wait 0: the lab's machines boot at once -- with fence_ipmilan's 2 s after "on", a
        # rebooted node is back in the cluster before its fencing is confirmed, and takes its
        # service back (a real server needs minutes to boot)
        params = {"backend": "ipmi", "ip": self.address, "username": "admin", "password": PASSWORD,
                  "lanplus": "1", "cipher": "3", "power_timeout": "10", "power_wait": "0",
                  "pcmk_host_list": self.node}
        params.update(extra)
        return params


class Config:
    """The CIB a cluster starts with, built from small pieces."""

    def __init__(self, properties=None):
        self.properties = {"dc-deadtime": "2s", "stonith-enabled": "true", "cluster-recheck-interval": "5s",
                           "stonith-timeout": "40s"}
        self.properties.update(properties or {})
        self.resources = []
        self.constraints = []
        self.rsc_defaults = {}

    @staticmethod
    def _attrs(parent, kind, owner, params):
        block = ET.SubElement(parent, kind, id="%s-%s" % (owner, kind.replace("_", "-")))
        for key, value in params.items():
            ET.SubElement(block, "nvpair", id="%s-%s" % (owner, key), name=key, value=str(value))
        return block

    @classmethod
    def primitive(cls, rid, klass, rtype, params=None, provider=None, monitor=None, meta=None, ops=None):
        element = ET.Element("primitive", id=rid, **{"class": klass}, type=rtype)
        if provider:
            element.set("provider", provider)
        if params:
            cls._attrs(element, "instance_attributes", rid, params)
        if meta:
            cls._attrs(element, "meta_attributes", rid, meta)
        operations = ET.SubElement(element, "operations")
        for name, interval, timeout in ([("monitor", monitor, "20s")] if monitor else []) + list(ops or []):
            ET.SubElement(operations, "op", id="%s-%s-%s" % (rid, name, interval), name=name,
                          interval=interval, timeout=timeout)
        return element

    def add_mdlp_group(self, vip, config, monitor="2s", meta=None, agent_monitor="500ms"):
        """The guide's service: the floating IP, then our agent, as one group (the agent monitored
        as the renders do: every 500 ms, answered by the OCF front from the watcher's verdict)."""
        group = ET.Element("group", id="mdlp")
        if meta:
            self._attrs(group, "meta_attributes", "mdlp", meta)
        group.append(self.primitive("mdlp-ip", "ocf", "IPaddr2", provider="heartbeat", monitor=monitor,
                                    params={"ip": vip, "cidr_netmask": "24", "nic": "eth0"}))
        group.append(self.primitive("mdlp-rhcs", "ocf", "mdlp", provider="websense", monitor=agent_monitor,
                                    params={"config": config},
                                    ops=[("start", "0s", "30s"), ("stop", "0s", "30s")]))
        self.resources.append(group)
        return group

    def add_fence_device(self, rid, bmc, avoid=None, password_in_cib=True, **extra):
        params = bmc.device_params(**extra)
        if not password_in_cib:     # fence_mdlp reads it from the node's /etc/mdlp_agents/fence_mdlp.conf
            del params["password"]
        self.resources.append(self.primitive(rid, "stonith", "fence_mdlp", params=params, monitor="60s"))
        if avoid:
            self.constraints.append(ET.Element("rsc_location", id="%s-avoids-%s" % (rid, avoid), rsc=rid,
                                               node=avoid, score="-INFINITY"))

    def prefer(self, rid, node, score="100"):
        self.constraints.append(ET.Element("rsc_location", id="%s-prefers-%s" % (rid, node), rsc=rid,
                                           node=node, score=score))

    def xml(self):
        cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "epoch": "1", "num_updates": "0",
                                 "admin_epoch": "0"})
        configuration = ET.SubElement(cib, "configuration")
        crm_config = ET.SubElement(configuration, "crm_config")
        props = ET.SubElement(crm_config, "cluster_property_set", id="cib-bootstrap-options")
        for key, value in self.properties.items():
            ET.SubElement(props, "nvpair", id="opt-" + key, name=key, value=value)
        ET.SubElement(configuration, "nodes")
        resources = ET.SubElement(configuration, "resources")
        resources.extend(self.resources)
        constraints = ET.SubElement(configuration, "constraints")
        constraints.extend(self.constraints)
        if self.rsc_defaults:
            defaults = ET.SubElement(configuration, "rsc_defaults")
            self._attrs(defaults, "meta_attributes", "rsc-options", self.rsc_defaults)
        ET.SubElement(cib, "status")
        return ET.tostring(cib, encoding="unicode")


class RenderedConfig:
    """A CIB whose configuration is what `mdlp-cluster render pacemaker -f cib` wrote (the test proves
    what users get), with the lab's own speed-ups added to its property set (PROPERTIES)."""

    def __init__(self, configuration, properties=None):
        self.configuration = ET.fromstring(configuration)
        self.properties = {"dc-deadtime": "2s", "cluster-recheck-interval": "5s"}
        self.properties.update(properties or {})

    def xml(self):
        cib = ET.Element("cib", {"validate-with": "pacemaker-3.9", "epoch": "1", "num_updates": "0",
                                 "admin_epoch": "0"})
        configuration = cib.makeelement("configuration", {})
        configuration.extend(copy.deepcopy(list(self.configuration)))    # xml() is called once a node
        cib.append(configuration)
        props = configuration.find("crm_config/cluster_property_set")
        for key, value in self.properties.items():
            ET.SubElement(props, "nvpair", id="lab-" + key, name=key, value=value)
        ET.SubElement(cib, "status")
        return ET.tostring(cib, encoding="unicode")


class Cluster:
    def __init__(self, lab, name, nodes, ring, config):
        self.lab = lab
        self.name = name
        self.nodes = nodes
        entries = "\n".join(NODE_ENTRY % (node.name, i + 1, ring[node.name]) for i, node in enumerate(nodes))
        quorum = "    two_node: 1" if len(nodes) == 2 else ""
        for node in nodes:
            conf = node.dir / "etc-corosync" / "corosync.conf"
            conf.write_text(COROSYNC_CONF % {"cluster": name, "nodes": entries, "quorum": quorum})
        self.seed(config)

    def seed(self, config):
        """Write the CIB every node boots with (cleared of any previous run's state)."""
        for node in self.nodes:
            base = node.dir / "var-lib-pacemaker"
            for sub in PACEMAKER_DIRS:
                for item in (base / sub).iterdir():
                    item.unlink()
            cib = base / "cib" / "cib.xml"
            cib.write_text(config.xml())
            cib.chmod(0o600)
            shutil.chown(cib, "hacluster", "haclient")

    def start(self, timeout=60):
        for node in self.nodes:
            self.lab.power(node.name, "on")
        self.wait_online(timeout=timeout)
        return self

    def node(self, name):
        return self.lab.nodes[name]

    def any_up(self):
        for node in self.nodes:
            if node.init_pid():
                return node
        raise LabError("no node of %s is powered" % self.name)

    def mon(self, via=None):
        """crm_mon --output-as=xml from VIA (default: the first powered node), parsed."""
        node = via or self.any_up()
        proc = node.run("crm_mon", "--output-as=xml", timeout=20)
        if proc.returncode not in (0,):
            raise LabError("crm_mon on %s: rc=%d %s" % (node.name, proc.returncode, proc.stderr.strip()))
        return ET.fromstring(proc.stdout)

    def online(self, via=None):
        try:
            root = self.mon(via)
        except (LabError, ET.ParseError, subprocess.TimeoutExpired):
            return set()
        if root.find("summary/current_dc[@present='true']") is None:
            return set()
        return {n.get("name") for n in root.iter("node")
                if n.get("online") == "true" and n.get("pending") != "true" and n.get("unclean") != "true"}

    def wait_online(self, names=None, via=None, timeout=60):
        want = set(names or [n.name for n in self.nodes])
        return wait_until("%s online in %s" % (", ".join(sorted(want)), self.name),
                          lambda: want <= self.online(via), timeout, interval=0.3)

    def where(self, rid, via=None, root=None):
        """Nodes where resource RID is started (and not failed), from crm_mon (or its parsed ROOT)."""
        if root is None:
            try:
                root = self.mon(via)
            except (LabError, ET.ParseError, subprocess.TimeoutExpired):
                return None
        for resource in root.iter("resource"):
            if resource.get("id") == rid:
                if resource.get("role") != "Started" or resource.get("failed") == "true":
                    return set()
                return {n.get("name") for n in resource.iter("node")}
        return set()

    def group_on(self, via=None):
        """The node running the whole mdlp group (both members), or None."""
        try:
            root = self.mon(via)
        except (LabError, ET.ParseError, subprocess.TimeoutExpired):
            return None
        ip, agent = self.where("mdlp-ip", root=root), self.where("mdlp-rhcs", root=root)
        if ip and agent and ip == agent and len(ip) == 1:
            return next(iter(ip))
        return None

    def wait_group(self, node_name=None, via=None, timeout=60):
        return wait_until("group mdlp started%s" % (" on " + node_name if node_name else ""),
                          lambda: (self.group_on(via) if node_name is None
                                   else self.group_on(via) == node_name and node_name),
                          timeout, interval=0.2)

    def idle(self, via=None, timeout=60):
        node = via or self.any_up()
        return node.run("crm_resource", "--wait", "--timeout=%ds" % timeout, timeout=timeout + 10)

    def fence_history(self, victim, via=None):
        node = via or self.any_up()
        # --verbose: every event, failed ones included (newest first); without it only the last success
        proc = node.run("stonith_admin", "--history", victim, "--verbose", "--output-as=xml", timeout=20)
        root = ET.fromstring(proc.stdout) if proc.stdout.strip().startswith("<") else ET.Element("x")
        return [dict(e.attrib) for e in root.iter("fence_event")]

    def failcount(self, rid, node_name, via=None):
        node = via or self.any_up()
        proc = node.run("crm_failcount", "-G", "-q", "-r", rid, "-N", node_name, timeout=20)
        text = proc.stdout.strip()
        return 0 if not text or text == "0" else (10 ** 6 if text == "INFINITY" else int(text))

    def cleanup(self, via=None):
        node = via or self.any_up()
        node.run("crm_resource", "--cleanup", timeout=30)


# --- pytest fixtures ------------------------------------------------------------------

TIMINGS = []          # (label, seconds, target or None), printed in the terminal summary
SINGLE_VIP = CLIENT_NET + ".100"
PAIR_VIPS = {"pairA": CLIENT_NET + ".101", "pairB": CLIENT_NET + ".102"}


def record(label, seconds, target=None):
    TIMINGS.append((label, seconds, target))
    return seconds


def require_cluster_tools():
    missing = [tool for tool in ("corosync", "pacemakerd", "crm_mon", "stonith_admin", "ipmi_sim", "ipmitool")
               if not shutil.which(tool) and not os.path.exists("/usr/sbin/" + tool)]
    if missing:
        pytest.fail("not installed: %s -- run sh tools/bootstrap test" % " ".join(missing))
    if os.geteuid() != 0:
        pytest.fail("the cluster tests need root (namespaces, mounts)")


class Scenario:
    """What a cluster test gets: the lab (for logs), its clusters, BMCs and nodes."""

    def __init__(self, lab, clusters):
        self.lab = lab
        self.clusters = clusters
        self.nodes = lab.nodes
        self.bmcs = lab.bmcs

    def cluster(self, name=None):
        return self.clusters[name] if name else next(iter(self.clusters.values()))


def _lab_root(factory, name):
    root = factory.mktemp(name)
    root.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def single_node(tmp_path_factory):
    """One node, node1, running the mdlp group (IPaddr2 + ocf:websense:mdlp, monitor 2 s) and a
    fence_mdlp device (ipmi backend) for `fakenode`, a machine behind an ipmi_sim that never
    joins the cluster."""
    require_cluster_tools()
    lab = Lab(_lab_root(tmp_path_factory, "single"), setup=False)
    try:
        lab.setup()
        config = Config()
        bmc = lab.add_bmc("fakenode")
        config.add_fence_device("fence-fakenode", bmc, login_timeout="2", shell_timeout="1")
        config.add_mdlp_group(SINGLE_VIP, lab.agent_config)
        cluster = lab.add_cluster("mdlp-single", ["node1"], config)
        started = time.monotonic()
        with lab.logs_on_error():
            cluster.start()
            cluster.wait_group("node1", timeout=60)
        record("single node: power on -> group started", time.monotonic() - started)
        yield Scenario(lab, {"mdlp-single": cluster})
    finally:
        lab.remove()


def pair_answers(vip, interface="eth0", bmcs=("198.18.10.201", "198.18.10.202"), **site):
    """The answer file of the lab's pair (pairA: node1 and node2 on the first heartbeat link) for
    `mdlp-cluster`: fence through ipmi as admin, [site] keys SITE added (strings quoted)."""
    settings = {"fence_backend": "ipmi", "fence_username": "admin"}
    settings.update(site)
    lines = ["[site]"] + ["%s = %s" % (key, '"%s"' % value if isinstance(value, str) else value)
                         for key, value in settings.items()]
    lines += ["", "[[cluster]]", 'name = "pairA"', 'floating_ip = "%s"' % vip, "prefix = 24",
              'interface = "%s"' % interface, 'failover_order = ["node1", "node2"]', "nodes = [",
              '    { name = "node1", address = "198.19.1.1", bmc = "%s" },' % bmcs[0],
              '    { name = "node2", address = "198.19.1.2", bmc = "%s" },' % bmcs[1], "]"]
    return "\n".join(lines) + "\n"


def pair_config(lab, first, second, vip, password_in_cib=True, priority_fencing_delay=None):
    """The guide's pair in Pacemaker terms: a fence_mdlp device per node (ipmi, never run on
    the node it fences, a delay on the one that fences the preferred node), the group with
    migration-threshold=1 (rgmanager's recovery="relocate"), preferring FIRST, sticky.
    PRIORITY_FENCING_DELAY: as the renders do, the node running the group wins a split (and a
    crashed node running it is fenced that much later)."""
    # with a priority delay, a stonith-timeout that leaves fence_mdlp its 50 s after the delays (as
    # the answer file enforces; a lab fencing takes a second)
    config = Config({"priority-fencing-delay": priority_fencing_delay, "stonith-timeout": "60s"}
                    if priority_fencing_delay else None)
    config.add_fence_device("fence-" + first, lab.bmcs[first], avoid=first, delay="1",
                            login_timeout="2", shell_timeout="1", password_in_cib=password_in_cib)
    config.add_fence_device("fence-" + second, lab.bmcs[second], avoid=second,
                            login_timeout="2", shell_timeout="1", password_in_cib=password_in_cib)
    meta = {"migration-threshold": "1"}
    if priority_fencing_delay:
        meta["priority"] = "10"
    config.add_mdlp_group(vip, lab.agent_config, meta=meta)
    config.prefer("mdlp", first)
    config.rsc_defaults = {"resource-stickiness": "200"}
    return config


@pytest.fixture(scope="module")
def pair_lab(tmp_path_factory):
    """The guide's scale-out site: two 2-node clusters side by side on one client network --
    pairA (node1, node2; floating IP .101) and pairB (node3, node4; .102) -- each node with
    its own ipmi_sim whose chassis control really powers that node."""
    require_cluster_tools()
    lab = Lab(_lab_root(tmp_path_factory, "pairs"), setup=False)
    try:
        lab.setup()
        for name in ("node1", "node2", "node3", "node4"):
            lab.add_bmc(name)
        clusters = {}
        for cluster_name, (first, second) in (("pairA", ("node1", "node2")), ("pairB", ("node3", "node4"))):
            clusters[cluster_name] = lab.add_cluster(
                cluster_name, [first, second], pair_config(lab, first, second, PAIR_VIPS[cluster_name]))
        started = time.monotonic()
        with lab.logs_on_error():
            for cluster in clusters.values():
                for node in cluster.nodes:
                    lab.power(node.name, "on")
            for cluster in clusters.values():
                cluster.wait_online(timeout=90)
                cluster.wait_group(cluster.nodes[0].name, timeout=60)
        record("two pairs: power on 4 nodes -> both groups started", time.monotonic() - started)
        yield Scenario(lab, clusters)
    finally:
        lab.remove()


@pytest.fixture(scope="module")
def one_pair(tmp_path_factory):
    """One guide pair (node1, node2; floating IP .101), each node behind its own ipmi_sim, the
    group preferring node1 with migration-threshold=1 -- for the day-2 scenarios."""
    require_cluster_tools()
    lab = Lab(_lab_root(tmp_path_factory, "pair"), setup=False)
    try:
        lab.setup()
        for name in ("node1", "node2"):
            lab.add_bmc(name)
        cluster = lab.add_cluster("pairA", ["node1", "node2"],
                                  pair_config(lab, "node1", "node2", PAIR_VIPS["pairA"]))
        started = time.monotonic()
        with lab.logs_on_error():
            cluster.start(timeout=90)
            cluster.wait_group("node1", timeout=60)
        record("one pair: power on 2 nodes -> group started", time.monotonic() - started)
        yield Scenario(lab, {"pairA": cluster})
    finally:
        lab.remove()

"""What fence_mdlp fences in the tests: OpenIPMI's ipmi_sim as a BMC on a loopback port (power in a
file its chassis program keeps), and a node of its own -- a network namespace with a real sshd and
the floating IP -- for the ssh backend."""

import os
import signal
import subprocess
from pathlib import Path

from helpers import RUN_ID, free_udp_port, port_open, reap_orphans, sshd_home, wait_for

from clusterlab import EMU, LAN_CONF

CHASSIS_SCRIPT = """#!/bin/sh
# ipmi_sim's chassis_control program: the simulated node's power, in a file
state=%(root)s/power
[ -f "$state" ] || echo 1 > "$state"
echo "$*" >> %(root)s/chassis.log
case "$1 $2" in
  "get power") echo "power:$(cat "$state")" ;;
  "set power") echo "$3" > "$state" ;;
esac
exit 0
"""
class IpmiSim:
    """OpenIPMI's ipmi_sim as a node's BMC on a loopback UDP port; power in a file."""

    PASSWORD = "bmc-s3cret"

    def __init__(self, root, name="node1", address="127.0.0.1", port=None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.address = address
        self.port = port or free_udp_port()
        (self.root / "chassis.sh").write_text(CHASSIS_SCRIPT % {"root": self.root})
        (self.root / "chassis.sh").chmod(0o755)
        (self.root / "lan.conf").write_text(LAN_CONF % {"name": name, "address": address, "port": self.port,
                                                        "chassis": self.root / "chassis.sh",
                                                        "password": self.PASSWORD})
        (self.root / "node.emu").write_text(EMU)
        (self.root / "state").mkdir(exist_ok=True)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["ipmi_sim", "-c", str(self.root / "lan.conf"), "-f",
                                      str(self.root / "node.emu"), "-s", str(self.root / "state"), "-n"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        if not wait_for(lambda: self.ipmitool("chassis", "power", "status").returncode == 0, timeout=10):
            self.stop()
            raise RuntimeError("ipmi_sim did not answer on port %d" % self.port)
        (self.root / "chassis.log").write_text("")
        return self

    def ipmitool(self, *command):
        return subprocess.run(["ipmitool", "-I", "lanplus", "-C", "3", "-H", self.address, "-p", str(self.port),
                               "-U", "admin", "-E"] + list(command), capture_output=True, text=True,
                              env=dict(os.environ, IPMI_PASSWORD=self.PASSWORD), timeout=20)

    @property
    def power(self):
        path = self.root / "power"
        return {"1": "on", "0": "off"}[path.read_text().strip()] if path.exists() else "on"

    def set_power(self, state):
        (self.root / "power").write_text("1\n" if state == "on" else "0\n")

    def log(self):
        return (self.root / "chassis.log").read_text().splitlines()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Victim:
    """A cluster node of its own for the ssh backend: a network namespace joined to
    this one by a veth link, a real sshd on it, and the floating IP on its link.
    (Processes are shared with the host: the services to kill are the fakes.)"""

    PORT = 2222
    # candidate /24s for the link; the first that no address or route of this host
    # touches is used (this machine's own eth0 may well sit in TEST-NET-1)
    SUBNETS = ("198.18.77", "198.19.77", "100.64.77", "169.254.77")

    @classmethod
    def free_subnet(cls):
        import ipaddress
        taken = subprocess.run(["ip", "-o", "addr", "show"], capture_output=True, text=True).stdout.split()
        taken += subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True, text=True).stdout.split()
        networks = []
        for word in taken:
            try:
                networks.append(ipaddress.ip_network(word, strict=False))
            except ValueError:
                continue
        for prefix in cls.SUBNETS:
            candidate = ipaddress.ip_network(prefix + ".0/24")
            if not any(n.version == 4 and n.prefixlen > 0 and n.overlaps(candidate) for n in networks):
                return prefix
        raise RuntimeError("no free test subnet among %s" % (cls.SUBNETS,))

    def __init__(self, root):
        prefix = self.free_subnet()
        self.HOST_ADDR, self.NODE_ADDR, self.VIP = prefix + ".1", prefix + ".2", prefix + ".201"
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        tag = RUN_ID % 100000
        self.ns = "mdlp-victim-%d" % tag
        self.host_if, self.node_if = "mdlpv%da" % tag, "mdlpv%db" % tag
        self.sshd = None

    def sh(self, *argv, ns=False):
        cmd = (["ip", "netns", "exec", self.ns] if ns else []) + list(argv)
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def start(self):
        self.sh("ip", "netns", "add", self.ns)
        self.sh("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.node_if, "netns", self.ns)
        self.sh("ip", "addr", "add", self.HOST_ADDR + "/24", "dev", self.host_if)
        self.sh("ip", "link", "set", self.host_if, "up")
        self.sh("ip", "link", "set", "lo", "up", ns=True)
        self.sh("ip", "addr", "add", self.NODE_ADDR + "/24", "dev", self.node_if, ns=True)
        self.sh("ip", "link", "set", self.node_if, "up", ns=True)
        self.add_vip()
        for key in ("host_key", "client_key", "stranger_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / key)], check=True)
        (self.root / "authorized_keys").write_text((self.root / "client_key.pub").read_text())
        (self.root / "known_hosts").write_text("[%s]:%d %s" % (self.NODE_ADDR, self.PORT,
                                                               (self.root / "host_key.pub").read_text()))
        (self.root / "sshd_config").write_text(
            "ListenAddress %s:%d\nHostKey %s\nPidFile %s\nAuthorizedKeysFile %s\nPubkeyAuthentication yes\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "PermitRootLogin prohibit-password\n"
            % (self.NODE_ADDR, self.PORT, self.root / "host_key", self.root / "sshd.pid",
               self.root / "authorized_keys") + sshd_home(self.root))
        os.makedirs("/run/sshd", exist_ok=True)
        self.start_sshd()
        return self

    def start_sshd(self):
        self.sshd = subprocess.Popen(["ip", "netns", "exec", self.ns, "/usr/sbin/sshd", "-D", "-e", "-f",
                                      str(self.root / "sshd_config")], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "sshd.log", "a"),
                                     start_new_session=True)
        if not wait_for(lambda: port_open(self.PORT, self.NODE_ADDR), timeout=10):
            raise RuntimeError("sshd did not start: %s" % (self.root / "sshd.log").read_text())

    def stop_sshd(self):
        if self.sshd and self.sshd.poll() is None:
            os.killpg(self.sshd.pid, signal.SIGKILL)
            self.sshd.wait()

    def add_vip(self):
        self.sh("ip", "addr", "add", self.VIP + "/32", "dev", self.node_if, ns=True)

    def has_vip(self):
        return (" %s/" % self.VIP) in self.sh("ip", "-o", "addr", "show", ns=True)

    def ssh_lines(self, key="client_key", known_hosts="known_hosts"):
        return ["backend=ssh", "ip=%s" % self.NODE_ADDR, "ipport=%d" % self.PORT, "username=root",
                "identity_file=%s" % (self.root / key), "vip=%s" % self.VIP,
                "ssh_options=-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
                "-o StrictHostKeyChecking=yes" % (self.root / known_hosts)]

    def remove(self):
        self.stop_sshd()
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        reap_orphans()

"""rgmanager and fenced, as they call our agents (contracts.md sections 1 and 4).

cman and rgmanager are not packaged for Debian, so these harnesses play their part
exactly where it touches us, driven by a cluster.conf of the guide's topology:

- rgmanager: the `<script>` resource of service `mdlp` is run as `$OCF_RESKEY_file ACTION`
  with one argument, PATH=/bin:/sbin:/usr/bin:/usr/sbin, LC_ALL=C and rgmanager's OCF_*
  variables, nothing else; only zero / non-zero counts.
- fenced: the agent named by the node's fence device runs with argv[0] only; stdin is the
  libfence block (the node's <device> attributes except name, nodename=, the <fencedevice>
  attributes except name); stdout and stderr are one pipe that nobody reads.

Both run the installed agents at the paths the cluster expects -- the script at
/opt/websense/rproxy/cs/mdlp_rhcs, configs under /etc/mdlp_agents and /etc/cluster -- in
a private mount namespace where a read-only overlay adds those files to /etc and /opt,
so nothing is installed on the host.
"""

import os
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

SYSTEM_PATH = "/bin:/sbin:/usr/bin:/usr/sbin"
SCRIPT = "/opt/websense/rproxy/cs/mdlp_rhcs"

# The guide's cluster (contracts.md section 5), fence device MdlpFencing = fence_mdlp.
# The BMC password is not here: fence_mdlp reads it from /etc/mdlp_agents/fence_mdlp.conf.
CLUSTER_CONF = """<?xml version="1.0"?>
<cluster config_version="2" name="mobile-cs">
  <fence_daemon post_fail_delay="0" post_join_delay="3"/>
  <clusternodes>
    <clusternode name="node1" nodeid="1" votes="1">
      <fence>
        <method name="1">
          <device name="MdlpFencing" ipport="{port1}"/>
        </method>
      </fence>
    </clusternode>
    <clusternode name="node2" nodeid="2" votes="1">
      <fence>
        <method name="1">
          <device name="MdlpFencing" ipport="{port2}"/>
        </method>
      </fence>
    </clusternode>
  </clusternodes>
  <cman expected_votes="1" two_node="1"/>
  <fencedevices>
    <fencedevice agent="fence_mdlp" name="MdlpFencing" backend="ipmi" ipaddr="127.0.0.1"
                 login="admin" lanplus="1" cipher="3" power_timeout="10" deadline="{deadline}"/>
  </fencedevices>
  <rm>
    <failoverdomains>
      <failoverdomain name="mdlp" ordered="1" restricted="1">
        <failoverdomainnode name="node1" priority="1"/>
        <failoverdomainnode name="node2" priority="2"/>
      </failoverdomain>
    </failoverdomains>
    <resources>
      <ip address="10.0.32.201" monitor_link="1"/>
      <script file="/opt/websense/rproxy/cs/mdlp_rhcs" name="mdlp_rhcs"/>
    </resources>
    <service autostart="1" domain="mdlp" exclusive="1" name="mdlp" recovery="relocate">
      <ip ref="10.0.32.201"/>
      <script ref="mdlp_rhcs"/>
    </service>
  </rm>
</cluster>
"""


# clustat -x as rgmanager prints it for the guide's pair (node1 local), the service's group from
# the stand-in's state in $RGM: clustat_standin(PRELUDE, group attributes) is the script
CLUSTAT_XML = r"""cat <<EOF
<?xml version="1.0"?>
<clustat version="4.1.1">
  <cluster name="mobile-cs" id="38714" generation="12"/>
  <quorum quorate="1" groupmember="1"/>
  <nodes>
    <node name="node1" state="1" local="1" estranged="0" rgmanager="1" rgmanager_master="0" qdisk="0"
          nodeid="0x00000001"/>
    <node name="node2" state="1" local="0" estranged="0" rgmanager="1" rgmanager_master="0" qdisk="0"
          nodeid="0x00000002"/>
  </nodes>
  <groups>
    <group name="service:%(service)s" state="112" state_str="%(state)s" flags="%(flags)s"
           flags_str="%(flags_str)s" owner="$(cat $RGM/owner)" last_owner="node1" restarts="0"
           last_transition="%(transition)s" last_transition_str="Sun Nov 29 09:53:20 2026"/>
  </groups>
</clustat>
EOF
"""


def clustat_standin(prelude, service="mdlp", state="started", flags="0", flags_str="", transition="1795946000"):
    """A clustat stand-in: PRELUDE (shell), then clustat -x's XML with the group's attributes."""
    return "#!/bin/sh\n" + prelude + CLUSTAT_XML % {"service": service, "state": state, "flags": flags,
                                                    "flags_str": flags_str, "transition": transition}


def rgmanager_env(script_file, name="mdlp_rhcs", service="mdlp"):
    """The whole environment rgmanager's script.sh gives a <script> resource."""
    return {"PATH": SYSTEM_PATH, "LC_ALL": "C", "OCF_ROOT": "/usr/lib/ocf",
            "OCF_RA_VERSION_MAJOR": "1", "OCF_RA_VERSION_MINOR": "0",
            "OCF_RESOURCE_INSTANCE": name, "OCF_CHECK_LEVEL": "0",
            "OCF_RESKEY_file": str(script_file), "OCF_RESKEY_name": name,
            "OCF_RESKEY_service_name": service}


class Result:
    def __init__(self, returncode, output, elapsed):
        self.returncode = returncode
        self.output = output
        self.elapsed = elapsed

    def __repr__(self):
        return "<rc=%s %.2fs output=%r>" % (self.returncode, self.elapsed, self.output)


class Appliance:
    """A node's file system as the cluster sees it: cluster.conf, our configs and the script
    at their real paths (an overlay in a private mount namespace), the agents from this venv."""

    def __init__(self, root, agent_dir, cluster_conf):
        self.root = Path(root)
        etc = self.root / "overlay-etc"
        (etc / "cluster").mkdir(parents=True)
        (etc / "mdlp_agents").mkdir()
        (etc / "cluster" / "cluster.conf").write_text(cluster_conf)
        cs = self.root / "overlay-opt" / "websense" / "rproxy" / "cs"
        cs.mkdir(parents=True)
        (cs / "mdlp_rhcs").symlink_to(Path(agent_dir) / "mdlp_rhcs")
        self.sbin = self.root / "overlay-sbin"
        self.sbin.mkdir()
        (self.sbin / "fence_mdlp").symlink_to(Path(agent_dir) / "fence_mdlp")
        self.etc = etc
        self.cluster_conf = cluster_conf

    @property
    def tree(self):
        return ET.fromstring(self.cluster_conf)

    def write_etc(self, relative, text, mode=0o600):
        path = self.etc / relative
        path.write_text(text)
        path.chmod(mode)
        return path

    def command(self, argv, dev_log=None):
        """The command line that runs ARGV inside the appliance's mount namespace."""
        mounts = ("mount -t overlay overlay -o lowerdir={etc}:/etc /etc && "
                  "mkdir -p /opt && mount -t overlay overlay -o lowerdir={opt}:/opt /opt && "
                  "mount -t overlay overlay -o lowerdir={sbin}:/sbin /sbin && "
                  ).format(etc=self.etc, opt=self.root / "overlay-opt", sbin=self.sbin)
        if dev_log:
            host_dev = self.root / "host-dev"
            host_dev.mkdir(exist_ok=True)
            mounts += ("mount --rbind /dev {old} && mount -t tmpfs -o mode=0755 tmpfs /dev && "
                       "for n in null zero random urandom full; do touch /dev/$n && mount --bind {old}/$n /dev/$n; "
                       "done && ln -s /proc/self/fd /dev/fd && ln -s {log} /dev/log && "
                       ).format(old=host_dev, log=dev_log)
        mounts += "exec \"$@\""
        return ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", mounts, "sh"] + list(argv)

    def _run(self, argv, env, stdin_text=None, timeout=120, unread_pipe=False, dev_log=None):
        """ARGV inside the appliance's mount namespace with exactly ENV; DEV_LOG: a socket that is
        /dev/log there (a /dev of the namespace's own, holding what programs need)."""
        cmd = self.command(argv, dev_log)
        started = time.monotonic()
        if unread_pipe:
            # fenced: stdout and stderr on one pipe it never reads
            read_end, write_end = os.pipe()
            try:
                proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=write_end,
                                        stderr=write_end, text=True)
                os.close(write_end)
                write_end = None
                if stdin_text is not None:
                    proc.stdin.write(stdin_text)
                proc.stdin.close()
                try:
                    code = proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()      # the agent did not bound itself: kill it, then fail the test
                    proc.wait()
                    raise
                os.set_blocking(read_end, False)
                try:
                    output = os.read(read_end, 1 << 20).decode(errors="replace")
                except BlockingIOError:
                    output = ""
            finally:
                os.close(read_end)
                if write_end is not None:
                    os.close(write_end)
            return Result(code, output, time.monotonic() - started)
        proc = subprocess.run(cmd, env=env, input=stdin_text, capture_output=True, text=True,
                              timeout=timeout, stdin=None if stdin_text is not None else subprocess.DEVNULL)
        return Result(proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started)


class Rgmanager(Appliance):
    """rgmanager's script.sh running the `<script>` resource of service `mdlp`."""

    def script(self):
        name = self.tree.find("rm/service[@name='mdlp']/script").get("ref")
        return self.tree.find("rm/resources/script[@name='%s']" % name)

    def call(self, action, timeout=120):
        script = self.script()
        return self._run([script.get("file"), action], rgmanager_env(script.get("file"), script.get("name")),
                         timeout=timeout)


def libfence_blocks(tree, victim):
    """What fenced writes to each agent of VICTIM's first fence method: [(agent, stdin text)]."""
    node = tree.find("clusternodes/clusternode[@name='%s']" % victim)
    method = node.find("fence/method")
    blocks = []
    for device in method.findall("device"):
        lines = ["%s=%s" % (k, v) for k, v in device.attrib.items() if k != "name"]
        if not any(line.startswith("nodename=") for line in lines):
            lines.append("nodename=%s" % victim)
        fencedevice = tree.find("fencedevices/fencedevice[@name='%s']" % device.get("name"))
        lines += ["%s=%s" % (k, v) for k, v in fencedevice.attrib.items() if k != "name"]
        blocks.append((fencedevice.get("agent"), "".join(line + "\n" for line in lines)))
    return blocks


class Fenced(Appliance):
    """fenced (cman) fencing a node through its first method."""

    def fence(self, victim, timeout=120):
        results = []
        for agent, block in libfence_blocks(self.tree, victim):
            env = {"PATH": SYSTEM_PATH, "LC_ALL": "C"}
            result = self._run(["/sbin/" + agent], env, stdin_text=block, timeout=timeout, unread_pipe=True)
            result.block = block
            results.append(result)
        return results

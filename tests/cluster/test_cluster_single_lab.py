"""A real single-node Pacemaker cluster drives mdlp_rhcs and fence_mdlp.

corosync 3 + Pacemaker 2.1 run in a node namespace (see clusterlab.py); the group
is IPaddr2 + ocf:websense:mdlp with a 2 s monitor; fencing goes through a
stonith:fence_mdlp device (ipmi backend) to an ipmi_sim on the lab network.
"""

import signal
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest
from helpers import BIN_DIR

from clusterlab import SINGLE_VIP, record, wait_until

pytestmark = pytest.mark.cluster
MONITOR_INTERVAL = 2.0
METADATA_RNG = "/usr/share/cluster/relaxng/metadata.rng"


def _failed_ops(node, rid):
    """The resource's recorded failed operations, from the CIB status section."""
    proc = node.run("cibadmin", "--query", "--xpath",
                    "//lrm_resource[@id='%s']/lrm_rsc_op[contains(@id, '_last_failure_')]" % rid)
    if proc.returncode != 0:
        return []
    return [dict(op.attrib) for op in ET.fromstring("<x>%s</x>" % proc.stdout).iter("lrm_rsc_op")]


def _recover_after(scenario, action, label, target=None):
    """Run ACTION (which breaks a service), then wait for the failure to be counted and the
    group to be healthy again; returns the seconds from ACTION to healthy."""
    cluster = scenario.cluster()
    node = scenario.nodes["node1"]
    before = cluster.failcount("mdlp-rhcs", "node1")
    old = {name: node.pids(name) for name in ("httpd", "PolicyEngine", "RProxyWD")}
    started = time.monotonic()
    action(node)
    wait_until("the failure counted", lambda: cluster.failcount("mdlp-rhcs", "node1") > before, 20, 0.1)
    detected = time.monotonic() - started
    wait_until("the group healthy again",
               lambda: cluster.group_on() == "node1"
               and all(node.pids(n) and node.pids(n) != old[n] for n in old), 30, 0.1)
    healthy = time.monotonic() - started
    record(label + ": detected", detected)
    record(label + ": healthy again", healthy, target)
    return detected, healthy


def test_group_started_and_configuration_clean(single_node):
    cluster = single_node.cluster()
    node = single_node.nodes["node1"]
    root = cluster.mon()
    group = root.find(".//group[@id='mdlp']")
    assert group is not None, ET.tostring(root, encoding="unicode")
    members = {r.get("id"): (r.get("role"), [n.get("name") for n in r.iter("node")]) for r in group}
    assert members == {"mdlp-ip": ("Started", ["node1"]), "mdlp-rhcs": ("Started", ["node1"])}
    assert root.find(".//resource[@id='fence-fakenode']").get("role") == "Started"
    verify = node.run("crm_verify", "-L", "-V")
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    # the floating IP is on the node and answers the client network with the node's httpd
    assert node.has_address(SINGLE_VIP)
    assert single_node.lab.fetch(SINGLE_VIP) == "served by node1"
    # and the agent, asked by hand on the node, agrees
    status = node.run("/usr/lib/ocf/resource.d/websense/mdlp", "monitor",
                      env={"OCF_RESKEY_config": str(single_node.lab.agent_config), "OCF_ROOT": "/usr/lib/ocf"})
    assert status.returncode == 0, status


def test_killed_service_is_recovered_within_monitor_interval(single_node):
    detected, healthy = _recover_after(single_node, lambda node: node.kill("PolicyEngine"),
                                       "single node: kill -9 PolicyEngine", MONITOR_INTERVAL + 2)
    # generous bound (the machine is shared); the measured figure is in the summary
    assert healthy < 3 * (MONITOR_INTERVAL + 2), healthy
    assert single_node.lab.fetch(SINGLE_VIP) == "served by node1"


def test_stopped_service_is_a_failure_not_a_monitor_timeout(single_node):
    node = single_node.nodes["node1"]
    _recover_after(single_node, lambda node: node.kill("RProxyWD", signal.SIGSTOP),
                   "single node: SIGSTOP RProxyWD")
    failed = [op for op in _failed_ops(node, "mdlp-rhcs") if op["operation"] == "monitor"]
    assert failed, _failed_ops(node, "mdlp-rhcs")
    # op-status 0 = the agent answered (2 would be a timeout); rc 1 = generic failure
    assert failed[-1]["op-status"] == "0" and failed[-1]["rc-code"] == "1", failed[-1]
    assert int(failed[-1]["exec-time"]) < 10000, failed[-1]
    # why, as Pacemaker records it (the agent's ocf-exit-reason: line) and crm_mon shows it
    assert failed[-1].get("exit-reason", "").startswith("RProxyWD HUNG ("), failed[-1]
    assert "stopped (SIGSTOP): hung" in failed[-1]["exit-reason"], failed[-1]
    reasons = [f.get("exitreason") for f in single_node.cluster().mon().iter("failure")
               if f.get("op_key", "").startswith("mdlp-rhcs_monitor")]
    assert any(r.startswith("RProxyWD HUNG (") for r in reasons), reasons


def test_httpd_hang_is_a_failure(single_node):
    """httpd alive but not answering (SIGSTOP): the tcp/http probes time out, monitor fails."""
    detected, healthy = _recover_after(single_node, lambda node: node.kill("httpd", signal.SIGSTOP),
                                       "single node: SIGSTOP httpd")
    assert single_node.lab.fetch(SINGLE_VIP) == "served by node1"


def _first_ok_after_start(node, rid, timeout=10):
    """The epoch second in which RID's recurring monitor turned "ok" after its latest start, as
    the CIB records it (last-rc-change), as soon as it is recorded."""
    def recorded():
        proc = node.run("cibadmin", "--query", "--local", "--xpath", "//lrm_resource[@id='%s']" % rid)
        if proc.returncode != 0:
            return None
        ops = list(ET.fromstring(proc.stdout).iter("lrm_rsc_op"))
        started = max((int(op.get("call-id")) for op in ops if op.get("operation") == "start"), default=None)
        for op in ops:
            if (op.get("operation") == "monitor" and op.get("interval") != "0" and op.get("rc-code") == "0"
                    and "_last_failure_" not in op.get("id") and started is not None
                    and int(op.get("call-id")) > started):
                return int(op.get("last-rc-change"))
        return None
    return wait_until("the monitor's first ok after the start", recorded, timeout, 0.02)


def test_service_dying_in_the_second_its_monitor_turned_ok_is_recovered(single_node):
    """Pacemaker records a recurring monitor's ok and its later failure under one call-id and
    orders them by whole seconds: a failure recorded in the second the monitor turned ok ties,
    and the scheduler may keep the ok and never recover (a service that dies at once after its
    start).  Aim a kill at the start of that second: it must be recovered."""
    node = single_node.nodes["node1"]
    aimed, tries = 0, 25
    for _ in range(tries):
        ok_second = _first_ok_after_start(node, "mdlp-rhcs")
        early = time.time() - ok_second < 0.4
        # a kill either way: its recovery is the next start
        _recover_after(single_node, lambda node: node.kill("PolicyEngine"),
                       "single node: kill in the second the monitor turned ok" if early else "single node: kill -9")
        aimed += early
        if aimed:
            break
    assert aimed, "none of %d kills came early enough in the second" % tries


def test_stonith_admin_sees_fence_mdlp(single_node):
    node = single_node.nodes["node1"]
    meta = node.run("stonith_admin", "--metadata", "--agent", "fence_mdlp")
    assert meta.returncode == 0, meta
    xml = ET.fromstring(meta.stdout)
    assert xml.get("name") == "fence_mdlp"
    # the fencer's view is the agent's own metadata (valid against fence-agents' schema), to which
    # Pacemaker adds its default action timeouts
    own = node.run("fence_mdlp", "-o", "metadata")
    check = subprocess.run(["xmllint", "--noout", "--relaxng", METADATA_RNG, "-"], input=own.stdout,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    params = [p.get("name") for p in xml.iter("parameter")]
    assert params == [p.get("name") for p in ET.fromstring(own.stdout).iter("parameter")]
    assert {"plug", "backend", "ip", "password"} <= set(params)
    agents = node.run("stonith_admin", "--list-installed")
    assert "fence_mdlp" in agents.stdout.split()
    registered = node.run("stonith_admin", "--list-registered")
    assert "fence-fakenode" in registered.stdout
    can_fence = node.run("stonith_admin", "--list", "fakenode")
    assert "fence-fakenode" in can_fence.stdout, can_fence
    query = node.run("stonith_admin", "--query", "fence-fakenode")  # the device's monitor
    assert query.returncode == 0, query


def test_stonith_admin_reboot_powers_the_machine_off_and_on(single_node):
    node = single_node.nodes["node1"]
    bmc = single_node.bmcs["fakenode"]
    before = len(bmc.log())
    started = time.monotonic()
    proc = node.run("stonith_admin", "--reboot", "fakenode", "--timeout", "30")
    record("single node: stonith_admin --reboot (fence_mdlp, ipmi)", time.monotonic() - started)
    assert proc.returncode == 0, proc
    assert bmc.log()[before:] == ["set power 0", "set power 1"]
    history = single_node.cluster().fence_history("fakenode")
    assert history and history[0]["status"] == "success" and history[0]["action"] == "reboot", history


def test_the_fencer_s_timeout_bounds_fence_mdlp_not_its_own_deadline(single_node):
    """Under pacemaker-fenced (PCMK_service), a fencing slower than the agent's own deadline but
    within the fencer's timeout is carried out, as fencing.py leaves the timing to the fencer: a
    device whose deadline is 3 s and whose BMC needs 4 s after each power command (power_wait)."""
    node = single_node.nodes["node1"]
    bmc = single_node.bmcs["fakenode"]

    def param(name, value=None):
        change = ["--set-parameter", name, "--parameter-value", value] if value else ["--delete-parameter", name]
        proc = node.run("crm_resource", "--resource", "fence-fakenode", *change)
        assert proc.returncode == 0, proc

    param("deadline", "3")
    param("power_wait", "4")
    try:
        time.sleep(3)     # the fencer re-reads the device from the CIB
        before = len(bmc.log())
        started = time.monotonic()
        proc = node.run("stonith_admin", "--reboot", "fakenode", "--timeout", "40", timeout=60)
        elapsed = time.monotonic() - started
        record("single node: reboot past fence_mdlp's deadline, within the fencer's timeout", elapsed)
    finally:
        param("deadline")
        param("power_wait", "0")
    assert proc.returncode == 0, proc
    assert bmc.log()[before:] == ["set power 0", "set power 1"]
    assert elapsed > 6, elapsed     # well past the 3 s deadline: two power_waits of 4 s


def _set_device_params(node, rid, replace=None, **changes):
    """Change RID's parameters in one CIB update (a value None removes one; REPLACE: the whole
    set, as returned), then wait for the cluster to settle: done one by one, each step is a
    device restart, and a fence request meanwhile runs with a half-changed device.  Returns the
    parameters as they were."""
    xpath = "//primitive[@id='%s']/instance_attributes" % rid
    proc = node.run("cibadmin", "--query", "--xpath", xpath)
    assert proc.returncode == 0, proc
    attrs = ET.fromstring(proc.stdout)
    if attrs.tag != "instance_attributes":          # more than one match comes wrapped
        attrs = attrs.find(".//instance_attributes")
    assert attrs is not None and attrs.get("id"), proc.stdout
    was = {pair.get("name"): pair.get("value") for pair in attrs.iter("nvpair")}
    wanted = dict(replace) if replace is not None else dict(was)
    for name, value in changes.items():
        if value is None:
            wanted.pop(name, None)
        else:
            wanted[name] = value
    new = ET.Element("instance_attributes", id=attrs.get("id"))
    for name, value in wanted.items():
        ET.SubElement(new, "nvpair", id="%s-%s" % (attrs.get("id"), name), name=name, value=value)
    proc = node.run("cibadmin", "--replace", "--xpath", xpath, "--xml-text", ET.tostring(new, encoding="unicode"))
    assert proc.returncode == 0, proc
    settled = node.run("crm_resource", "--wait", "--timeout", "60", timeout=90)
    assert settled.returncode == 0, settled
    return was


def test_one_device_for_its_nodes_through_pcmk_host_map_and_port_as_ip(single_node):
    """The fence-agents way to aim one device at several machines: Pacemaker maps the node to an
    address (pcmk_host_map) and passes it as the plug; port_as_ip makes that the BMC's address."""
    node = single_node.nodes["node1"]
    bmc = single_node.bmcs["fakenode"]

    original = _set_device_params(node, "fence-fakenode", ip=None, port_as_ip="1",
                                  pcmk_host_map="othernode:10.9.9.9;fakenode:%s" % bmc.address)
    try:
        # the fencer re-registers the device from the CIB: until it has, it knows no device for the
        # node ("No such device", nothing run); that window is longer on a loaded machine
        before = len(bmc.log())
        end = time.monotonic() + 30
        while True:
            proc = node.run("stonith_admin", "--reboot", "fakenode", "--timeout", "30", timeout=60)
            if proc.returncode == 0 or "No such device" not in proc.stderr or time.monotonic() > end:
                break
            time.sleep(1)
    finally:
        _set_device_params(node, "fence-fakenode", replace=original)
    assert proc.returncode == 0, proc
    assert bmc.log()[before:] == ["set power 0", "set power 1"]


def test_unanswering_bmc_is_reported_as_failed(single_node):
    node = single_node.nodes["node1"]
    bmc = single_node.bmcs["fakenode"]
    before = len(bmc.log())
    bmc.freeze()
    try:
        started = time.monotonic()
        proc = node.run("stonith_admin", "--reboot", "fakenode", "--timeout", "30", timeout=60)
        record("single node: reboot with a dead BMC -> reported failed", time.monotonic() - started)
    finally:
        bmc.thaw()
    assert proc.returncode != 0, proc
    history = single_node.cluster().fence_history("fakenode")
    assert history[0]["status"] != "success", history
    assert bmc.log()[before:] == []


def test_a_drill_on_a_single_node_cluster_is_refused_in_one_line(single_node):
    """`mdlp-cluster drill` needs a pair: on one node, `run` refuses before anything is done
    (exit 3, one line) and `check` says why it is not ready.  (Before the test below adds a node.)"""
    node = single_node.nodes["node1"]
    assert node.run("crm_node", "--list").stdout.split()[1::3] == ["node1"]
    cluster = single_node.cluster()
    before = cluster.failcount("mdlp-rhcs", "node1")
    pids = node.pids("httpd")
    run = node.run(BIN_DIR / "mdlp-cluster", "drill", "run", "kill-httpd", "--yes-i-know", "mdlp-single",
                   timeout=60)
    assert run.returncode == 3, run
    assert run.stdout == "refused: the cluster has 1 node (node1): a drill needs a pair\n" and run.stderr == "", run
    check = node.run(BIN_DIR / "mdlp-cluster", "drill", "check", timeout=60)
    assert check.returncode == 1, check
    assert check.stdout.startswith("NOT READY: the cluster has 1 node (node1): a drill needs a pair\n"), check
    assert node.pids("httpd") == pids and cluster.failcount("mdlp-rhcs", "node1") == before


def test_cluster_initiated_fencing_of_a_node_that_never_joins(single_node):
    """The scheduler -> controller -> fencer -> fence_mdlp path: a configured node that never
    shows up must be fenced before the cluster trusts it is gone."""
    cluster = single_node.cluster()
    node = single_node.nodes["node1"]
    bmc = single_node.bmcs["fakenode"]
    before = len(bmc.log())
    done = len([e for e in cluster.fence_history("fakenode") if e["status"] == "success"])
    started = time.monotonic()
    proc = node.run("cibadmin", "--create", "-o", "nodes", "--xml-text", '<node id="2" uname="fakenode"/>')
    assert proc.returncode == 0, proc
    wait_until("the cluster fencing fakenode",
               lambda: len([e for e in cluster.fence_history("fakenode") if e["status"] == "success"]) > done,
               40, 0.2)
    record("single node: unseen node added -> fenced through fence_mdlp", time.monotonic() - started)
    event = cluster.fence_history("fakenode")[0]
    assert event["client"].startswith("pacemaker-controld"), event
    assert bmc.log()[before:][:1] == ["set power 0"]
    # the service never moved
    assert cluster.group_on() == "node1"

"""mdlp-cluster render pacemaker: the cluster in Pacemaker terms (_Pacemaker, once), spelled as a
pcs script, crm configure text or the CIB's <configuration>; render.py has what every render shares."""

import xml.etree.ElementTree as ET

from .answers import SECRET_HOME
from .render import SERVICE, _delayed, _fence_params, _from, _quote, _xml

PRIORITY = 10     # the group's: a node running it outranks one that does not


class _Pacemaker:
    """The cluster in Pacemaker terms, once; three spellings of it below.

    A split of a pair (the heartbeat gone, both nodes alive, both reaching the BMCs): each node
    fences the other, and the node that runs the service must win wherever it runs.  Pacemaker's
    priority-fencing-delay (2.0.4+: EL8.3, EL9) makes fencing of the node with the higher priority
    (the group's: where mdlp runs) wait; a smaller static delay (pcmk_delay_base) on the device
    that fences the preferred node still decides a split while the service runs nowhere (stopped,
    disabled).  Pacemaker wants the priority delay at least twice the static one, and waits the two
    one after the other where both apply (lab: "Delaying 'reboot' ... for 8s | requested_delay=6s
    base=2s"); answers.py keeps their sum below stonith-timeout, so a fencer that counts them in
    its timeout does not give up first.  The price: a node lost while running the service is
    fenced that much later, crash or split alike (Pacemaker cannot tell them apart)."""

    def __init__(self, site, cluster):
        self.site, self.cluster = site, cluster
        self.pair = len(cluster.nodes) == 2 and site.fence_delay > 0
        self.static_delay = site.fence_delay // 3 if self.pair else 0
        self.fences = []
        for node in cluster.nodes:
            params = _fence_params(site, cluster, node) + [("pcmk_host_list", node.name)]
            if _delayed(site, cluster, node) and self.static_delay:
                # the fencer waits pcmk_delay_base itself, before it runs the agent; the agent's
                # own delay would be charged to the agent's run
                params.append(("pcmk_delay_base", "%ds" % self.static_delay))
            self.fences.append(("fence-" + node.name, node.name, params))
        self.properties = [("stonith-enabled", "true"), ("stonith-timeout", "%ds" % site.fence_timeout)]
        if self.pair:
            self.properties.append(("priority-fencing-delay", "%ds" % site.fence_delay))
        self.group_meta = [("migration-threshold", "1")] + ([("priority", str(PRIORITY))] if self.pair else [])
        self.ip = ("mdlp-ip", "ocf:heartbeat:IPaddr2",
                   [("ip", cluster.floating_ip), ("cidr_netmask", str(cluster.prefix)), ("nic", cluster.interface)],
                   [("monitor", "%ds" % site.ip_monitor_interval, "20s")])
        self.agent = ("mdlp-rhcs", "ocf:websense:mdlp", [("config", site.service_config)],
                      [("monitor", duration(site.monitor_interval), "20s"), ("start", "0s", "60s"),
                       ("stop", "0s", "60s")])
        self.avoid = len(cluster.nodes) == 2      # a device never runs on the node it fences
        self.preferred = cluster.failover_order[0]
        # below the stickiness: the service stays where it runs when the preferred node returns
        self.preference = max(1, site.stickiness // 2)

    def race(self):
        """Comment lines: who wins a split, why, and the price."""
        if len(self.cluster.nodes) != 2:
            return []
        if not self.pair:
            return ["# fence_delay = 0: no fencing delay -- in a split (heartbeat lost, both alive) both nodes",
                    "# fence each other at once and both may die"]
        return ["# a split (heartbeat lost, both alive): the node running mdlp wins -- fencing a node that runs",
                "# it waits priority-fencing-delay=%ds (the group's priority=%d); with mdlp running nowhere,"
                % (self.site.fence_delay, PRIORITY),
                "# fence-%s's pcmk_delay_base=%ds protects %s (the preferred node)"
                % (self.preferred, self.static_delay, self.preferred),
                "# the price: %s" % self.price()]

    def version_guard(self):
        """Shell lines: stop, before anything is changed, where Pacemaker cannot take the split settings."""
        if not self.pair:
            return []
        return ["# priority-fencing-delay needs Pacemaker 2.0.4 or later (EL8.3, EL9): stop before anything changes",
                "pacemaker=$(pacemakerd --version 2>/dev/null | sed -n '1s/^Pacemaker \\([0-9.]*\\).*/\\1/p')",
                "if [ \"$(printf '%s\\n' 2.0.4 \"$pacemaker\" | sort -V | head -n 1)\" != 2.0.4 ]; then",
                "    echo \"Pacemaker ${pacemaker:-not found} here: priority-fencing-delay needs 2.0.4 or later\" >&2",
                "    exit 1",
                "fi"]

    def price(self):
        return ("a node lost while running mdlp is fenced up to %ds later (Pacemaker adds both delays)"
                % (self.site.fence_delay + self.static_delay))


def duration(seconds):
    """SECONDS as Pacemaker writes an interval: 30s, or 500ms below a whole second."""
    if seconds == int(seconds):
        return "%ds" % seconds
    return "%dms" % round(seconds * 1000)


def _ops(ops):
    return " ".join("op %s interval=%s timeout=%s" % op for op in ops)


def _whole_seconds(interval):
    """A Pacemaker interval as pcs accepts it (whole seconds, at least one)."""
    if interval.endswith("ms"):
        return "%ds" % max(1, -(-int(interval[:-2]) // 1000))
    return interval


def _args(params):
    return " ".join("%s=%s" % (k, _quote(v)) for k, v in params)


def pcs(site, cluster):
    p = _Pacemaker(site, cluster)
    c = cluster
    lines = ["#!/bin/sh",
             "# Pacemaker configuration of cluster %s, %s." % (c.name, _from(site)),
             "# Run once, as root, on one node, after `pcs host auth %s`." % " ".join(n.name for n in c.nodes),
             "# fence_mdlp reads the fencing password from %s on each node." % SECRET_HOME,
             "set -e"] + p.version_guard() + [
             "# corosync: a 2-node cluster gets two_node: 1 (quorum with one node) from pcs itself, which implies",
             "# wait_for_all: a node that boots alone waits to see its peer before it acts, so a fenced node that",
             "# comes back while the heartbeat is still cut fences nobody (no fence loop), and --enable starts",
             "# the cluster at boot: it rejoins as the passive node once the link is back",
             "pcs cluster setup %s %s --start --enable --wait" % (_quote(c.name), " ".join(
                 "%s addr=%s" % (_quote(n.name), _quote(n.address)) for n in c.nodes)),
             "pcs property set %s" % " ".join("%s=%s" % kv for kv in p.properties),
             "pcs resource defaults update resource-stickiness=%d" % site.stickiness] + p.race()
    for rid, victim, params in p.fences:
        lines.append("pcs stonith create %s fence_mdlp %s op monitor interval=60s" % (_quote(rid), _args(params)))
        if p.avoid:
            lines.append("pcs constraint location %s avoids %s" % (_quote(rid), _quote(victim)))
    for rid, agent, params, ops in (p.ip, p.agent):
        whole = [(name, _whole_seconds(interval), timeout) for name, interval, timeout in ops]
        lines.append("pcs resource create %s %s %s %s --group %s" % (_quote(rid), _quote(agent), _args(params),
                                                                     _ops(whole), SERVICE))
        for (name, interval, _), (_, rounded, _) in zip(ops, whole):
            if interval != rounded:
                op_id = "%s-%s-interval-%s" % (rid, name, rounded)
                lines += ["# pcs takes whole seconds only; Pacemaker takes %s (the OCF front answers it" % interval,
                          "# from the watcher's verdict, without starting Python)",
                          "cibadmin --modify --scope resources --xml-text %s" % _quote(
                              '<op id="%s" name="%s" interval="%s"/>' % (op_id, name, interval))]
    lines.append("# rgmanager's recovery=\"relocate\": one failure moves the service to the other node")
    lines.append("pcs resource meta %s %s" % (SERVICE, " ".join("%s=%s" % kv for kv in p.group_meta)))
    lines.append("pcs constraint location %s prefers %s" % (SERVICE, _quote("%s=%d" % (p.preferred, p.preference))))
    return "\n".join(lines) + "\n"


def crm(site, cluster):
    p = _Pacemaker(site, cluster)
    lines = ["# crm configure text for cluster %s, %s." % (cluster.name, _from(site)),
             "# Load with: crm configure load update FILE"]
    if len(cluster.nodes) == 2:
        lines.append("# corosync.conf of a 2-node cluster needs quorum { two_node: 1 } (crm cluster init sets it)")
    lines += ["# fence_mdlp reads the fencing password from %s on each node." % SECRET_HOME,
              "property cib-bootstrap-options: %s" % " ".join("%s=%s" % kv for kv in p.properties),
              "rsc_defaults rsc-options: resource-stickiness=%d" % site.stickiness] + p.race()
    for rid, victim, params in p.fences:
        lines.append("primitive %s stonith:fence_mdlp params %s op monitor interval=60s" % (rid, _args(params)))
        if p.avoid:
            lines.append("location %s-avoids-%s %s -inf: %s" % (rid, victim, rid, victim))
    for rid, agent, params, ops in (p.ip, p.agent):
        lines.append("primitive %s %s params %s %s" % (rid, agent, _args(params), _ops(ops)))
    lines.append("group %s %s %s meta %s" % (SERVICE, p.ip[0], p.agent[0],
                                              " ".join("%s=%s" % kv for kv in p.group_meta)))
    lines.append("location %s-prefers-%s %s %d: %s" % (SERVICE, p.preferred, SERVICE, p.preference, p.preferred))
    return "\n".join(lines) + "\n"


def _nvpairs(parent, tag, owner, params, block_id=None):
    block = ET.SubElement(parent, tag, id=block_id or "%s-%s" % (owner, tag.replace("_", "-")))
    prefix = owner if block_id else "%s-%s" % (owner, tag.split("_")[0])
    for key, value in params:
        ET.SubElement(block, "nvpair", id="%s-%s" % (prefix, key), name=key, value=str(value))


def _primitive(parent, rid, agent, params, ops):
    parts = agent.split(":")
    element = ET.SubElement(parent, "primitive", {"id": rid, "class": parts[0], "type": parts[-1]})
    if len(parts) == 3:
        element.set("provider", parts[1])
    _nvpairs(element, "instance_attributes", rid, params)
    operations = ET.SubElement(element, "operations")
    for name, interval, timeout in ops:
        ET.SubElement(operations, "op", id="%s-%s-interval-%s" % (rid, name, interval), name=name,
                      interval=interval, timeout=timeout)
    return element


def cib(site, cluster):
    """The <configuration> section: `cibadmin --replace --scope configuration --xml-file FILE`."""
    p = _Pacemaker(site, cluster)
    configuration = ET.Element("configuration")
    _nvpairs(ET.SubElement(configuration, "crm_config"), "cluster_property_set", "cib-bootstrap-options",
             p.properties, block_id="cib-bootstrap-options")
    # ids are corosync nodeids: `nodeid` in the answer file, else 1, 2 in order (as pcs numbers them);
    # without the node list a replaced configuration leaves the nodes' state orphaned
    nodes = ET.SubElement(configuration, "nodes")
    for node in cluster.nodes:
        ET.SubElement(nodes, "node", id=str(node.nodeid), uname=node.name)
    resources = ET.SubElement(configuration, "resources")
    constraints = ET.SubElement(configuration, "constraints")
    for rid, victim, params in p.fences:
        _primitive(resources, rid, "stonith:fence_mdlp", params, [("monitor", "60s", "20s")])
        if p.avoid:
            ET.SubElement(constraints, "rsc_location", id="%s-avoids-%s" % (rid, victim), rsc=rid, node=victim,
                          score="-INFINITY")
    group = ET.SubElement(resources, "group", id=SERVICE)
    _nvpairs(group, "meta_attributes", SERVICE, p.group_meta)
    for rid, agent, params, ops in (p.ip, p.agent):
        _primitive(group, rid, agent, params, ops)
    ET.SubElement(constraints, "rsc_location", id="%s-prefers-%s" % (SERVICE, p.preferred), rsc=SERVICE,
                  node=p.preferred, score=str(p.preference))
    defaults = ET.SubElement(configuration, "rsc_defaults")
    _nvpairs(defaults, "meta_attributes", "rsc-options", [("resource-stickiness", str(site.stickiness))],
             block_id="rsc-options")
    comment = _from(site)
    if len(cluster.nodes) == 2:
        comment += "; corosync.conf needs quorum { two_node: 1 }"
    if p.pair:
        comment += ("; in a split the node running mdlp wins (priority-fencing-delay %ds, the group's priority %d); "
                    "with mdlp running nowhere, %s wins (pcmk_delay_base %ds on fence-%s); the price: %s"
                    % (site.fence_delay, PRIORITY, p.preferred, p.static_delay, p.preferred, p.price()))
    elif len(cluster.nodes) == 2:
        comment += "; fence_delay = 0: in a split both nodes fence each other at once and both may die"
    return _xml(configuration, comment)

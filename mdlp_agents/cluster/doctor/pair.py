"""Who is who in a doctor's run: this node, its partner, and the addresses the answer file expects
-- from the answer file, else from this node's cluster configuration (corosync.conf, cluster.conf)."""

from ...common.errors import AgentError
from ..stacks import cluster_conf
from ..stacks.pacemaker import corosync_node_names


class Pair:
    """This node and its partner: names, the addresses the answer file expects (or None)."""

    def __init__(self, me, partner, expected, cluster_name=None, prefix=None):
        self.me, self.partner = me, partner
        self.expected = expected            # {name: address} from the answer file, or {}
        self.cluster_name = cluster_name
        self.prefix = prefix
        self.problem = None

    @property
    def names(self):
        return [self.me, self.partner] if self.partner else [self.me]


def _cluster_names():
    """Node names from this node's cluster configuration: corosync.conf, else cluster.conf."""
    names = corosync_node_names()
    if not names:
        try:
            names = cluster_conf.node_names(cluster_conf.read())
        except (OSError, AgentError):
            names = []
    return names


def pair_from(site, peer, hostname):
    """The pair this node belongs to, from the answer file (SITE) or the cluster's configuration;
    its `problem` says what does not fit (an unknown node, a node not in the answer file)."""
    if site is not None:
        for cluster in site.clusters:
            names = [n.name for n in cluster.nodes]
            if hostname in names:
                expected = {n.name: n.address for n in cluster.nodes}
                others = [n for n in names if n != hostname]
                partner = peer or (others[0] if others else None)
                if partner not in names:
                    pair = Pair(hostname, None, expected, cluster.name, cluster.prefix)
                    pair.problem = "unknown node %r: cluster %s of %s has %s" % (partner, cluster.name, site.path,
                                                                                 ", ".join(names))
                    return pair
                return Pair(hostname, partner, expected, cluster.name, cluster.prefix)
        pair = Pair(hostname, peer, {})
        pair.problem = "this node (%s) is not a node of %s (its nodes: %s)" % (
            hostname, site.path, ", ".join(n.name for n in site.nodes))
        return pair
    names = _cluster_names()
    partner = peer or next((n for n in names if n != hostname), None)
    pair = Pair(hostname, partner, {})
    if not partner:
        pair.problem = ("no partner: give --peer NODE or an answer file (the cluster's configuration names no "
                        "other node)")
    return pair

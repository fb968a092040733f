"""A split pair on the lab: both nodes alive, the heartbeat link cut (both directions, inside the
nodes' own namespaces), the client network and the BMCs still reachable -- the classic 2-node
failure.  The pair is configured from `mdlp-cluster render pacemaker -f cib` (what users get), its
BMC password in each node's /etc/mdlp_agents/fence_mdlp.conf.

A client on the lab network fetches the floating IP 10 times a second and both nodes' addresses are
sampled 10 times a second: the node that runs the service wins the race wherever it runs, exactly
one node is fenced, the address is never held by two nodes at one sample; the fenced node boots
with the link still cut and fences nobody (wait_for_all), and rejoins as passive when it heals."""

import subprocess
import threading
import time

import pytest
from helpers import BIN_DIR

from clusterlab import (
    CLIENT_NET,
    PASSWORD,
    Lab,
    RenderedConfig,
    _lab_root,
    pair_answers,
    record,
    require_cluster_tools,
    wait_until,
)

pytestmark = pytest.mark.cluster
TOOL = BIN_DIR / "mdlp-cluster"
VIP = CLIENT_NET + ".101"
FENCE_DELAY = 6          # the render's priority-fencing-delay; its static delay is a third of it

# the site file each node's fence_mdlp reads: the password, and the lab's timings (its machines
# boot at once: with power_wait 2 a rebooted node is back before its fencing is confirmed)
FENCE_CONF = "[fence]\npassword = %s\npower_wait = 0\npower_timeout = 10\nlogin_timeout = 2\nshell_timeout = 1\n"

# a GET started every 0.1 s whatever the earlier ones do (each in a thread of its own, 0.5 s timeout):
# a dead address slows no sample down
FETCHER = r"""
import sys, threading, time, urllib.request
out, lock = open(sys.argv[2], "a", buffering=1), threading.Lock()
def fetch(started):
    try:
        page = urllib.request.urlopen("http://%s/" % sys.argv[1], timeout=0.5).read().decode().split()[-1]
    except Exception:
        page = "-"
    with lock:
        out.write("%.3f %s\n" % (started, page))
while True:
    started = time.time()
    threading.Thread(target=fetch, args=(started,), daemon=True).start()
    time.sleep(max(0.0, 0.1 - (time.time() - started)))
"""
RATE = 5                 # samples a second, at least, of each sampler (the floor)
OUTAGE_BOUND = 2.0       # seconds: the winner runs the service already; measured 0.10-0.11 s


class Split:
    """The pair, its heartbeat switch, and what the samplers saw."""

    def __init__(self, lab, cluster, root):
        self.lab, self.cluster, self.root = lab, cluster, root
        self.nodes = lab.nodes
        self.answers = root / "answers.toml"
        self.holders = []           # (time, {nodes holding the floating IP})
        self.fetches = root / "fetches.log"
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._fetcher = None

    # -- the heartbeat link ------------------------------------------------------------------------
    def cut(self):
        for node in self.nodes.values():
            for chain, flag in (("INPUT", "-i"), ("OUTPUT", "-o")):
                subprocess.run(["ip", "netns", "exec", node.ns, "iptables", "-A", chain, flag, "hb0", "-j", "DROP"],
                               check=True)
        return time.time()

    def heal(self):
        for node in self.nodes.values():
            subprocess.run(["ip", "netns", "exec", node.ns, "iptables", "-F"], check=True)

    # -- the samplers --------------------------------------------------------------------------
    def start_sampling(self):
        self._fetcher = subprocess.Popen(["ip", "netns", "exec", self.lab.ns, "python3", "-c", FETCHER, VIP,
                                          str(self.fetches)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._sampler.start()

    def stop_sampling(self):
        self._stop.set()
        if self._fetcher:
            self._fetcher.kill()
            self._fetcher.wait()

    def _sample(self):
        while not self._stop.is_set():
            started = time.time()
            held = {name for name, node in self.nodes.items() if node.has_address(VIP)}
            self.holders.append((started, held))
            time.sleep(max(0.0, 0.1 - (time.time() - started)))

    def fetched(self, since):
        samples = []
        for line in self.fetches.read_text().splitlines():
            stamp, page = line.split()
            if float(stamp) >= since:
                samples.append((float(stamp), None if page == "-" else page))
        return sorted(samples)

    def assert_sampled(self, since):
        """Both samplers kept their rate since SINCE: a verdict on too few samples proves nothing."""
        seconds = time.time() - since
        held = [stamp for stamp, _ in self.holders if stamp >= since]
        fetched = self.fetched(since)
        assert len(held) >= RATE * seconds * 0.9 and len(fetched) >= RATE * seconds * 0.9, \
            (seconds, len(held), len(fetched))

    # -- what happened -------------------------------------------------------------------------
    def power_events(self, since):
        """[(time, node, 'set power 0' ...)] of both BMCs since SINCE, in order."""
        events = []
        for name, node in self.nodes.items():
            path = node.dir / "chassis.log"
            for line in path.read_text().splitlines() if path.exists() else []:
                stamp, _, what = line.partition(" ")
                if float(stamp) >= since and what.startswith("set power"):
                    events.append((float(stamp), name, what))
        return sorted(events)

    def fenced(self, since):
        return sorted({name for _, name, what in self.power_events(since) if what == "set power 0"})

    def outage(self, since):
        """Seconds the floating IP did not answer after SINCE: the longest gap between the starts of
        answered GETs (SINCE and the last GET started count as ends).  None: it never answered."""
        samples = self.fetched(since)
        answers = [stamp for stamp, page in samples if page]
        if not answers:
            return None
        stamps = [since] + answers + [samples[-1][0]]
        return max(b - a for a, b in zip(stamps, stamps[1:]))


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    require_cluster_tools()
    root = _lab_root(tmp_path_factory, "split")
    lab = Lab(root, setup=False)
    try:
        lab.setup()
        for name in ("node1", "node2"):
            lab.add_bmc(name)
        answers = root / "answers.toml"
        answers.write_text(pair_answers(VIP, bmcs=(lab.bmcs["node1"].address, lab.bmcs["node2"].address),
                                        fence_cipher="3", fence_delay=FENCE_DELAY, fence_timeout=60,
                                        service_config=str(lab.agent_config), monitor_interval=2,
                                        ip_monitor_interval=2))
        render = subprocess.run([str(TOOL), "render", "pacemaker", "-f", "cib", str(answers)], capture_output=True,
                                text=True, check=True)
        configuration = render.stdout.split("-->", 1)[1]
        cluster = lab.add_cluster("pairA", ["node1", "node2"], RenderedConfig(configuration))
        for node in cluster.nodes:
            site = node.dir / "etc-upper" / "mdlp_agents"
            site.mkdir(parents=True)
            (site / "fence_mdlp.conf").write_text(FENCE_CONF % PASSWORD)
            (site / "fence_mdlp.conf").chmod(0o600)
        started = time.monotonic()
        with lab.logs_on_error():
            cluster.start(timeout=90)
            cluster.wait_group("node1", timeout=60)
        record("split pair (rendered CIB): power on 2 nodes -> group started", time.monotonic() - started)
        pair = Split(lab, cluster, root)
        pair.start_sampling()
        yield pair
        pair.stop_sampling()
    finally:
        lab.remove()


def _place_group(split, node_name):
    """The group on NODE_NAME, settled, no constraint left of the move."""
    cluster = split.cluster
    if cluster.group_on() != node_name:
        cluster.node(node_name).run("crm_resource", "--move", "--resource", "mdlp", "--node", node_name, check=True)
        cluster.wait_group(node_name, timeout=40)
        cluster.node(node_name).run("crm_resource", "--clear", "--resource", "mdlp", check=True)
    cluster.idle()
    assert cluster.group_on() == node_name


def _race(split, owner, label):
    """Cut the heartbeat with the group on OWNER: OWNER survives, the other node alone is fenced."""
    other = "node2" if owner == "node1" else "node1"
    _place_group(split, owner)
    cut = split.cut()
    wait_until("a fencing after the cut", lambda: split.fenced(cut), 60, 0.2)
    fence_seconds = split.power_events(cut)[0][0] - cut
    wait_until("%s serving the floating IP" % owner,
               lambda: [p for s, p in split.fetched(cut + fence_seconds) if p == owner], 30)
    time.sleep(2 * FENCE_DELAY)              # the loser's own fencing, had it lived, would be due by now
    assert split.fenced(cut) == [other], (split.power_events(cut), split.lab.logs())
    outage = split.outage(cut)
    record("%s: heartbeat cut -> %s fenced" % (label, other), fence_seconds)
    record("%s: client-visible outage" % label, outage)
    assert outage is not None and outage <= OUTAGE_BOUND, outage
    split.assert_sampled(cut)
    return cut


def _heal(split, survivor):
    cluster = split.cluster
    split.heal()
    cluster.wait_online(timeout=90)
    cluster.idle()
    assert cluster.group_on() == survivor          # the returning node is passive: nothing moves


def _never_two_holders(split):
    doubled = [(stamp, held) for stamp, held in split.holders if len(held) > 1]
    assert not doubled, doubled[:5]


def test_the_render_verifies_on_the_running_pair(split):
    node = split.nodes["node1"]
    verify = node.run("crm_verify", "-L", "-V")
    assert verify.returncode == 0, verify
    props = node.run("crm_attribute", "--type", "crm_config", "--name", "priority-fencing-delay", "--query").stdout
    assert "value=%ds" % FENCE_DELAY in props, props


@pytest.mark.parametrize("round_", [1, 2])      # the third race: test_a_fenced_node_booting_...
def test_with_the_service_on_its_preferred_node_it_wins_every_race(split, round_):
    cut = _race(split, "node1", "split, mdlp on node1 (round %d)" % round_)
    _heal(split, "node1")
    assert split.fenced(cut) == ["node2"]
    _never_two_holders(split)


def test_with_the_service_moved_the_node_running_it_wins(split):
    cut = _race(split, "node2", "split, mdlp on node2")
    _heal(split, "node2")
    assert split.fenced(cut) == ["node1"]
    _never_two_holders(split)
    _place_group(split, "node1")


def test_a_fenced_node_booting_while_the_link_is_cut_fences_nobody(split):
    """wait_for_all (two_node: 1): the node that comes back alone waits for its peer."""
    cut = _race(split, "node1", "split, no fence loop")
    fenced_at = split.power_events(cut)[-1][0]
    wait_until("node2 booted again", lambda: split.nodes["node2"].init_pid(), 30)
    time.sleep(30)
    assert split.power_events(fenced_at + 0.001) == [], split.power_events(fenced_at + 0.001)
    assert split.cluster.group_on(via=split.nodes["node1"]) == "node1"
    record("split: fenced node up with the link cut, no new fence for", 30.0)
    started = time.monotonic()
    _heal(split, "node1")
    record("split: link healed -> node2 rejoined, passive", time.monotonic() - started)
    _never_two_holders(split)


def test_a_fence_device_that_lies_lets_the_wrong_node_win_and_doctor_says_so_first(split):
    """node1's device for node2 on the noop backend: node1 'fences' node2 at once and nothing happens;
    node2, alive, fences node1 for real after its delay and takes the service.  The doctor (run on
    node1 beforehand) names the noop backend as a WARN."""
    node1 = split.nodes["node1"]
    _place_group(split, "node1")
    assert node1.run("crm_resource", "--resource", "fence-node2", "--set-parameter", "backend",
                     "--parameter-value", "noop", check=False).returncode == 0
    try:
        split.cluster.idle()        # the device restarted with the new parameter; the fencer re-reads it
        time.sleep(2)
        doctor = node1.run(TOOL, "doctor", split.answers, "--timeout", "6", timeout=60)
        assert any(line.startswith("WARN") and "noop backend FENCES NOTHING" in line
                   for line in doctor.stdout.splitlines()), doctor
        # the settings themselves are right: the split check reads them from the live CIB
        assert any(line.split()[:2] == ["OK", "split"] and "priority-fencing-delay %d s (priority of mdlp), static "
                   "%d s" % (FENCE_DELAY, FENCE_DELAY // 3) in line for line in doctor.stdout.splitlines()), doctor
        cut = split.cut()
        wait_until("a real fencing", lambda: split.fenced(cut), 60, 0.2)
        wait_until("node2 serving", lambda: [p for s, p in split.fetched(cut) if p == "node2"], 40)
        assert split.fenced(cut) == ["node1"], split.power_events(cut)     # the service's node, not the other
        record("split with a lying device: the service's node fenced, outage", split.outage(cut))
        split.assert_sampled(cut)
        _never_two_holders(split)
    finally:
        split.heal()
        split.cluster.wait_online(timeout=90)
        split.nodes["node2"].run("crm_resource", "--resource", "fence-node2", "--set-parameter", "backend",
                                 "--parameter-value", "ipmi")
        split.cluster.idle()


def test_the_price_a_lost_service_node_is_fenced_only_after_the_priority_delay(split):
    """priority-fencing-delay is not only for splits: Pacemaker delays fencing of any lost node that
    ran the higher priority when the survivor has no majority -- in a pair, always.  A node that
    dies with the service (power lost: nothing there answers) is fenced FENCE_DELAY seconds later,
    and that is added to the outage.  Measured and stated, so fence_delay is chosen knowingly."""
    _place_group(split, "node1")
    lost = time.time()
    split.lab.power("node1", "off")           # the machine dies: corosync, the IP and httpd with it
    # its BMC says "off" already: the fencer's reboot is a power on (fence-agents skip the "off")
    wait_until("node1 fenced", lambda: split.power_events(lost), 60, 0.2)
    fence_seconds = split.power_events(lost)[0][0] - lost
    wait_until("node2 serving", lambda: [p for s, p in split.fetched(lost) if p == "node2"], 40)
    outage = split.outage(lost)
    record("node1 lost with mdlp -> fenced (priority-fencing-delay %d s)" % FENCE_DELAY, fence_seconds)
    record("node1 lost with mdlp -> client-visible outage", outage)
    assert fence_seconds >= FENCE_DELAY, fence_seconds
    assert {name for _, name, _ in split.power_events(lost)} == {"node1"}, split.power_events(lost)
    split.assert_sampled(lost)
    _never_two_holders(split)
    split.cluster.wait_online(timeout=90)            # the fencing's "on" booted it: it rejoins passive
    split.cluster.idle()
    assert split.cluster.group_on() == "node2"
    _place_group(split, "node1")

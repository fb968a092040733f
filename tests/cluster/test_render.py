"""site/pacemaker_render.py in-process: what the renders say and set for a split at the edges of
fence_delay (the goldens cover the defaults)."""

import xml.etree.ElementTree as ET

import pytest
from helpers import REPO

from mdlp_agents.cluster.site import pacemaker_render
from mdlp_agents.cluster.site.answers import load
from mdlp_agents.cluster.site.conf_check import check

pytestmark = pytest.mark.inprocess
TOML = (REPO / "examples" / "cluster-2node.toml").read_text()


def _site(tmp_path, **site):
    path = tmp_path / "answers.toml"
    path.write_text(TOML.replace("[site]\n", "[site]\n" + "".join("%s = %d\n" % kv for kv in site.items())))
    return load(str(path))


def _properties(text):
    configuration = ET.fromstring(text.split("-->", 1)[1])
    return {p.get("name"): p.get("value") for p in configuration.iter("nvpair")}


def test_no_fence_delay_says_so_and_sets_no_priority(tmp_path):
    site = _site(tmp_path, fence_delay=0)
    cluster = site.clusters[0]
    cib, pcs = pacemaker_render.cib(site, cluster), pacemaker_render.pcs(site, cluster)
    values = _properties(cib)
    assert "priority-fencing-delay" not in values and "priority" not in values and "pcmk_delay_base" not in values
    assert "fence_delay = 0: in a split both nodes fence each other at once and both may die" in cib
    assert "# fence_delay = 0: no fencing delay -- in a split (heartbeat lost, both alive) both nodes" in pcs
    assert check(cib) == []


@pytest.mark.parametrize("delay,static", [(5, 1), (6, 2), (15, 5), (30, 10)])
def test_the_smallest_delays_still_render_a_static_third_that_validates(tmp_path, delay, static):
    site = _site(tmp_path, fence_delay=delay)
    cib = pacemaker_render.cib(site, site.clusters[0])
    values = _properties(cib)
    assert (values["priority-fencing-delay"], values["pcmk_delay_base"], values["priority"]) == (
        "%ds" % delay, "%ds" % static, "10")
    assert "fenced up to %ds later" % (delay + static) in cib
    assert check(cib) == []
    crm = pacemaker_render.crm(site, site.clusters[0])
    assert "# fence-node1's pcmk_delay_base=%ds protects node1 (the preferred node)" % static in crm


def test_a_four_node_site_is_two_pairs_each_with_its_own_race(tmp_path):
    path = tmp_path / "answers.toml"
    path.write_text((REPO / "examples" / "cluster-4node.toml").read_text())
    site = load(str(path))
    for cluster in site.clusters:
        values = _properties(pacemaker_render.cib(site, cluster))
        assert values["priority-fencing-delay"] == "15s" and values["priority"] == "10"
        assert values["pcmk_delay_base"] == "5s"

"""doctor/facts.py and doctor/pair.py in-process: digests of the settings (a secret file only under
a key), the budget every fact shares, who the partner is."""

import pytest
from helpers import REPO

from mdlp_agents.cluster.doctor import facts
from mdlp_agents.cluster.doctor.pair import pair_from
from mdlp_agents.cluster.site.answers import load

pytestmark = pytest.mark.inprocess


def test_a_secret_file_is_digested_only_under_a_key(tmp_path):
    path = tmp_path / "fence_mdlp.conf"
    path.write_text("[fence]\npassword = s3cret\n")
    one, two = facts.file_fact(str(path), "k1"), facts.file_fact(str(path), "k2")
    assert one["hmac"] != two["hmac"] and one["hmac"] == facts.file_fact(str(path), "k1")["hmac"]
    assert set(facts.file_fact(str(path), "")) == {"mtime"}           # no key: no digest at all
    assert set(facts.file_fact(str(path))) == {"sha256", "size", "mtime"}
    assert facts.file_fact(str(tmp_path / "none"))["error"] == "absent"


def test_a_budget_bounds_the_steps_together():
    budget = facts.Budget(1.0, step=4.0)
    assert 0.9 <= budget() <= 1.0
    assert facts.Budget(-5)() == 0.2           # spent: each remaining step still gets a moment


def test_who_is_the_partner(monkeypatch):
    site = load(str(REPO / "examples" / "cluster-2node.toml"))
    pair = pair_from(site, None, "node2")
    assert (pair.me, pair.partner, pair.problem) == ("node2", "node1", None)
    unknown = pair_from(site, "node7", "node1")
    assert unknown.partner is None and unknown.problem.startswith("unknown node 'node7': cluster mobile-cs of ")
    stranger = pair_from(site, None, "web3")
    assert stranger.problem.startswith("this node (web3) is not a node of ")

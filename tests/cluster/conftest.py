"""The cluster labs (clusterlab.py: real corosync and Pacemaker in network namespaces, ipmi_sim
BMCs) for the tests marked `cluster`, and the logs a failed one carries."""

import pytest

from clusterlab import one_pair, pair_lab, single_node  # noqa: F401  (fixtures)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed cluster test carries the tail of every node's Pacemaker and corosync logs."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            logs = getattr(getattr(value, "lab", None), "logs", None)
            if logs:
                report.sections.append(("Pacemaker and corosync logs (%s)" % value.lab.root, logs()))
                break

"""mdlp_rhcs's own fixtures: the guide's three services running, each with process and pidfile probes."""

import pytest
from helpers import write_config


@pytest.fixture
def three_services(tmp_path, fake):
    """The guide's three services, running, each with process + pidfile probes."""
    for name in ("httpd", "PolicyEngine", "RProxyWD"):
        fake.start(name)
    body = "".join("[service %s]\nprocess = %s\npidfile = %s\ntimeout = 1\n\n" % (n, n, fake.pidfile(n))
                   for n in ("httpd", "PolicyEngine", "RProxyWD"))
    return write_config(tmp_path, body, agent="deadline = 4\n")

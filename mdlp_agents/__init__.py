"""mdlp-agents: cluster agents for the Websense mobile DLP reverse proxy.

`mdlp_rhcs` is the health/resource agent (rgmanager script, OCF agent, admin
status tool); `fence_mdlp` the fence agent; `mdlp-cluster` the configuration
tool.  The version has one home, `__version__` below: setup.cfg reads it
(`attr:`), the Makefile and the RPM spec take it from here, and the agents
print it without asking package metadata (which Python 3.6 has no API for).
"""

__version__ = "0.1.0"


def version():
    return __version__

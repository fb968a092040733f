"""mdlp-agents: cluster agents for the Websense mobile DLP reverse proxy.

`mdlp_rhcs` is the health/resource agent (rgmanager script, OCF agent, admin
status tool).  The version below is the project's one version number: setup.cfg
reads it, the OCF meta-data prints it.
"""

__version__ = "0.1.0"

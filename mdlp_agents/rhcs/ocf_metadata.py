"""OCF meta-data of mdlp_rhcs (valid against resource-agents' ra-api-1.dtd)."""

from xml.sax.saxutils import escape, quoteattr

from .. import version
from .config import DEFAULT_PATH

AGENT_NAME = "mdlp"

LONGDESC = (
    "Health and resource agent of the Websense mobile DLP reverse proxy: Apache httpd, "
    "PolicyEngine and RProxyWD.  monitor reports the resource running only on the node where "
    "it was started, and only while every service passes all of its probes (process alive and "
    "not stopped, pidfile current, TCP port accepting and owned by the service, HTTP answering "
    "below 500, init script status) within one deadline.  Services are listed in an INI file.  "
    "By default stop leaves the services running (they run on both nodes; the floating IP "
    "moves): set stop_policy = stop in the file to stop them.  start also leaves a watcher "
    "running (stop ends it) whose verdict the OCF front answers a recurring monitor from without "
    "starting Python, and which hands a failure over at once: monitor every 500ms (as mdlp-cluster "
    "renders it) and a dead service reaches the cluster within a second."
)

# name, timeout, extra attributes
ACTIONS = (
    ("start", "90s", ""),
    ("stop", "90s", ""),
    ("monitor", "20s", ' interval="10s" depth="0"'),
    ("meta-data", "5s", ""),
    ("validate-all", "20s", ""),
)


def metadata_xml():
    actions = "".join('    <action name="%s" timeout="%s"%s/>\n' % a for a in ACTIONS)
    return """<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="%(name)s" version=%(version)s>
  <version>1.0</version>
  <longdesc lang="en">%(longdesc)s</longdesc>
  <shortdesc lang="en">Websense mobile DLP services (httpd, PolicyEngine, RProxyWD)</shortdesc>
  <parameters>
    <parameter name="config" unique="0" required="0">
      <longdesc lang="en">Path of the mdlp_rhcs configuration file (INI): the services, their probes, start and stop commands, the deadline and the stop policy.</longdesc>
      <shortdesc lang="en">Configuration file</shortdesc>
      <content type="string" default=%(default)s/>
    </parameter>
  </parameters>
  <actions>
%(actions)s  </actions>
</resource-agent>
""" % {"name": AGENT_NAME, "version": quoteattr(version()), "longdesc": escape(LONGDESC),
       "default": quoteattr(DEFAULT_PATH), "actions": actions}

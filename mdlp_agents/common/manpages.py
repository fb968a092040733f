"""Man pages generated from the agents' own help and metadata (the RPM build runs
`python3 -m mdlp_agents.common.manpages mdlp_rhcs|fence_mdlp|mdlp-cluster`).

heading() is on fence_mdlp's own path (its -o manpage): the page builders import click and the
tools only when a page is asked for."""

import sys

from .. import version
from .escape import roff


def heading(name, summary):
    """A page's first lines: .TH (section 8, the version) and NAME."""
    return ['.TH %s 8 "" "mdlp-agents %s" "System Administration"' % (name.upper().replace("-", "\\-"), version()),
            ".SH NAME", "%s \\- %s" % (roff(name), roff(summary))]


def rhcs_manpage():
    import click

    from ..rhcs.cli import ACTIONS, build_command
    from ..rhcs.config import AGENT_DEFAULTS, PROBE_TIMEOUT_DEFAULT, SERVICE_KEYS
    command = build_command()
    with click.Context(command, info_name="mdlp_rhcs") as ctx:
        help_text = command.get_help(ctx)
    lines = heading("mdlp_rhcs", "health and resource agent of the Websense mobile DLP cluster") + [
             ".SH SYNOPSIS", ".B mdlp_rhcs", "\\fIACTION\\fR [\\fB\\-\\-config\\fR \\fIPATH\\fR] "
             "[\\fB\\-\\-json\\fR] [\\fB\\-v\\fR]",
             ".SH DESCRIPTION",
             "rgmanager runs it as /opt/websense/rproxy/cs/mdlp_rhcs (LSB exit codes); Pacemaker through "
             "the OCF link /usr/lib/ocf/resource.d/websense/mdlp (OCF exit codes, parameter config); "
             "admins run mdlp_rhcs status by hand.",
             ".SH ACTIONS", roff(", ".join(ACTIONS)),
             ".SH USAGE", ".nf", roff(help_text), ".fi",
             ".SH CONFIGURATION",
             "INI file: $MDLP_RHCS_CONF, else /etc/mdlp_agents/mdlp_rhcs.conf.",
             ".TP", ".B [agent]", roff(", ".join("%s (default %s)" % kv for kv in AGENT_DEFAULTS.items())),
             ".TP", ".B [service NAME]", roff(", ".join(SERVICE_KEYS) +
                                               " (timeout default %gs)" % PROBE_TIMEOUT_DEFAULT),
             ".SH EXIT STATUS",
             "status: 0 running, 1 down with a stale pidfile, 3 not running, 4 internal error, 6 not configured. "
             "Other actions: 0 success, 1 failure, 2 invalid arguments, 3 unimplemented, 5 not installed, "
             "6 not configured. Through the OCF link: monitor 0 running, 7 not running (or not active on this "
             "node), 1 failed.",
             ".SH FILES", "/etc/mdlp_agents/mdlp_rhcs.conf, /run/mdlp_agents/ (role marker, last states)",
             ".SH SEE ALSO", "fence_mdlp(8)"]
    return "\n".join(lines) + "\n"


def cluster_manpage():
    import click

    from ..cluster.cli import main as command
    sections = []

    def walk(cmd, name):
        with click.Context(cmd, info_name=name) as ctx:
            sections.append((name, cmd.get_help(ctx)))
        for sub in sorted(getattr(cmd, "commands", {})):
            walk(cmd.commands[sub], "%s %s" % (name, sub))

    walk(command, "mdlp-cluster")
    lines = heading("mdlp-cluster", "render, validate and watch the mdlp cluster configuration") + [
             ".SH SYNOPSIS", ".B mdlp\\-cluster", "render rhcs|pacemaker|firewall|hosts|dns \\fIANSWERS\\fR",
             ".br", ".B mdlp\\-cluster", "validate [\\fICLUSTER.CONF\\fR]", ".br", ".B mdlp\\-cluster",
             "status [\\fB\\-\\-json\\fR|\\fB\\-\\-table\\fR] [\\fB\\-\\-from\\fR \\fIFILE\\fR]", ".br",
             ".B mdlp\\-cluster", "maintenance on [\\fB\\-\\-for\\fR \\fIDURATION\\fR] [\\fB\\-\\-reason\\fR "
             "\\fITEXT\\fR]|off [\\fB\\-\\-force\\fR]|status", ".br",
             ".B mdlp\\-cluster", "doctor [\\fIANSWERS\\fR] [\\fB\\-\\-peer\\fR \\fINODE\\fR] [\\fB\\-\\-json\\fR]",
             ".SH DESCRIPTION",
             "One answer file (TOML, or INI on Pythons before 3.11) describes the site: its 2-node clusters, "
             "nodes, floating IPs and fencing. Secrets are refused there: fence_mdlp reads the BMC or SSH "
             "password from /etc/mdlp_agents/fence_mdlp.conf. The example answer files are in "
             "/usr/share/doc/mdlp-agents."]
    for name, text in sections:
        lines += [".SH %s" % roff(name.upper()), ".nf", roff(text), ".fi"]
    lines += [".SH EXIT STATUS",
              "render: 0 written, 2 unusable answer file or option. validate: 0 clean, 1 problems found, "
              "2 unreadable. status: 0 started, 1 failed or recovering, 3 stopped, disabled or not configured, "
              "4 unknown. maintenance: 0 done or nothing to do, 1 refused (a service down, the cluster said no), "
              "2 bad input, no such service or no cluster manager answering. doctor: 0 nothing failed, 1 a check "
              "failed, 2 bad input.",
              ".SH SEE ALSO", "mdlp_rhcs(8), fence_mdlp(8), cluster.conf(5), pcs(8), crm(8)"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["mdlp_rhcs"]:
        sys.stdout.write(rhcs_manpage())
    elif argv == ["mdlp-cluster"]:
        sys.stdout.write(cluster_manpage())
    elif argv == ["fence_mdlp"]:
        from ..fence.options import manpage
        sys.stdout.write(manpage())
    else:
        sys.stderr.write("usage: python3 -m mdlp_agents.common.manpages mdlp_rhcs|fence_mdlp|mdlp-cluster\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

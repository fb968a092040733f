"""mdlp_rhcs(8), from the agent's own help and configuration table."""

from ..common.escape import roff
from ..common.manpages import heading


def rhcs_manpage():
    import click

    from .cli import ACTIONS, build_command
    from .config import AGENT_DEFAULTS, PROBE_TIMEOUT_DEFAULT, SERVICE_KEYS
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

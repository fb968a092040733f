"""mdlp-cluster(8), from the command's own help, subcommand by subcommand."""

from ..common.escape import roff
from ..common.manpages import heading


def cluster_manpage():
    import click

    from .cli import main as command
    sections = []

    def walk(cmd, name):
        with click.Context(cmd, info_name=name) as ctx:
            sections.append((name, cmd.get_help(ctx)))
        for sub in sorted(getattr(cmd, "commands", {})):
            if not getattr(cmd.commands[sub], "hidden", False):
                walk(cmd.commands[sub], "%s %s" % (name, sub))

    walk(command, "mdlp-cluster")
    lines = heading("mdlp-cluster", "render, validate and watch the mdlp cluster configuration") + [
             ".SH SYNOPSIS", ".B mdlp\\-cluster", "render rhcs|pacemaker|firewall|hosts|dns \\fIANSWERS\\fR",
             ".br", ".B mdlp\\-cluster", "validate [\\fICLUSTER.CONF\\fR|\\fICIB.XML\\fR]", ".br", ".B mdlp\\-cluster",
             "status [\\fB\\-\\-json\\fR|\\fB\\-\\-table\\fR] [\\fB\\-\\-from\\fR \\fIFILE\\fR]", ".br",
             ".B mdlp\\-cluster", "maintenance on [\\fB\\-\\-for\\fR \\fIDURATION\\fR] [\\fB\\-\\-reason\\fR "
             "\\fITEXT\\fR]|off [\\fB\\-\\-force\\fR]|status", ".br",
             ".B mdlp\\-cluster", "doctor [\\fIANSWERS\\fR] [\\fB\\-\\-peer\\fR \\fINODE\\fR] [\\fB\\-\\-json\\fR]",
             ".br", ".B mdlp\\-cluster", "drill plan|check|run [\\fISTEP\\fR...] [\\fB\\-\\-json\\fR \\fIFILE\\fR] "
             "[\\fB\\-\\-yes\\-i\\-know\\fR \\fICLUSTERNAME\\fR]",
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
              "failed, 2 bad input. drill plan: 0, 2 bad input; drill check: 0 ready for a drill, 1 not ready, "
              "2 bad input; drill run: 0 every step passed, 1 a step failed and the pair was restored, 2 bad input, "
              "3 refused by the guard (nothing done), 4 the pair was left unhealthy.",
              ".SH SEE ALSO", "mdlp_rhcs(8), fence_mdlp(8), cluster.conf(5), pcs(8), crm(8)"]
    return "\n".join(lines) + "\n"

"""mdlp-cluster: from one answer file to a running cluster configuration, without the X GUI.

    mdlp-cluster render rhcs|pacemaker|firewall|hosts|dns ANSWERS [options]
    mdlp-cluster validate /etc/cluster/cluster.conf
    mdlp-cluster status [--json | --table] [--from FILE]
    mdlp-cluster maintenance on|off|status
    mdlp-cluster doctor [ANSWERS] [--peer NODE]
    mdlp-cluster drill plan|check|run [STEP...]

Exit codes: render 0 written, 2 unusable answer file or option; validate 0 clean, 1 problems
found, 2 unreadable; status (LSB) 0 started, 1 failed or recovering, 3 stopped, disabled or not
configured, 4 unknown; maintenance 0 done, 1 refused, 2 bad input; doctor 0 nothing failed,
1 a check failed, 2 bad input; drill: see `mdlp-cluster drill --help`.  The commands return
what they found; this module prints it.
"""

import json
import os
import re
import sys

import click

from ..common.clicompat import float_range, parse, prepare_click, version_option
from ..common.errors import AgentError
from ..common.files import atomic_write, read_regular, read_utf8
from ..common.main import run_tool
from ..common.paths import CLUSTER_CONF as CLUSTER_CONF_PATH
from ..common.paths import MDLP_RHCS_CONF, SBIN_FIRST_PATH
from ..common.syslogging import AgentLog
from ..common.text import one_line
from .drill.commands import drill
from .live import status as cluster_status
from .options import CLUSTER_CONF, PROG, RESOURCE, WAIT, address_option, node_names, stack_here
from .site import pacemaker_render
from .site import render as cluster_render
from .site.answers import load
from .site.conf_check import check


class ToolError(AgentError):
    """mdlp-cluster cannot do what was asked (a file it cannot read or write): exit 2."""

    exit_code = 2


def _report(message):
    """One line on stderr and in syslog (run_tool's report)."""
    click.echo("%s: %s" % (PROG, one_line(message)), err=True)
    try:
        AgentLog(PROG).error(message)
    except Exception:   # logging must never turn an error into a traceback
        pass


def _write(text, output):
    if output in (None, "-"):
        click.echo(text, nl=False)
        return
    try:   # re-rendering keeps the file's mode; a temporary file of our own, nothing left behind
        atomic_write(output, text, mode=0o644, keep_mode=True)
    except (OSError, UnicodeError) as exc:
        raise ToolError("cannot write %s: %s" % (output, getattr(exc, "strerror", None) or exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@version_option(PROG, "-V", "--version")
def main():
    """Render, check and watch the mdlp cluster configuration (rgmanager or Pacemaker)."""


@main.group()
def render():
    """Write configuration for the cluster(s) an answer file describes (to stdout, or -o FILE)."""


ANSWERS = click.argument("answers", type=click.Path(dir_okay=False))
OUTPUT = click.option("-o", "--output", metavar="FILE", help="Write here instead of stdout.")
CLUSTER = click.option("-c", "--cluster", "cluster_name", metavar="NAME",
                       help="Which cluster of the site (needed when the answer file has several).")


@render.command()
@ANSWERS
@CLUSTER
@OUTPUT
@click.option("--config-version", type=click.IntRange(1), metavar="N",
              help="config_version to write (default: the one in --output plus 1, else 1).")
def rhcs(answers, cluster_name, output, config_version):
    """/etc/cluster/cluster.conf for cman + rgmanager + fenced."""
    site = load(answers)
    cluster = site.cluster(cluster_name)
    if config_version is None:
        previous = None
        if output not in (None, "-") and os.path.lexists(output):
            previous = read_utf8(output, ToolError)
        config_version = cluster_render.next_config_version(previous)
    _write(cluster_render.rhcs(site, cluster, config_version), output)


@render.command()
@ANSWERS
@CLUSTER
@OUTPUT
@click.option("-f", "--format", "style", type=click.Choice(["pcs", "crm", "cib"]), default="pcs", show_default=True,
              help="pcs script, crm configure text, or CIB <configuration> XML.")
def pacemaker(answers, cluster_name, output, style):
    """The same cluster for Pacemaker: a pcs script, crm configure text or CIB XML."""
    site = load(answers)
    cluster = site.cluster(cluster_name)
    _write(getattr(pacemaker_render, style)(site, cluster), output)


@render.command()
@ANSWERS
@CLUSTER
@OUTPUT
@click.option("--stack", type=click.Choice(["rhcs", "pacemaker"]), default="rhcs", show_default=True,
              help="Whose ports: the guide's (cman/ricci/dlm/ccsd) or Pacemaker's.")
@click.option("-f", "--format", "style", type=click.Choice(["iptables", "firewalld"]), default="iptables",
              show_default=True)
def firewall(answers, cluster_name, output, stack, style):
    """Firewall rules admitting cluster traffic from the cluster's nodes."""
    site = load(answers)
    _write(cluster_render.firewall(site, _clusters(site, cluster_name), stack, style), output)


@render.command()
@ANSWERS
@CLUSTER
@OUTPUT
def hosts(answers, cluster_name, output):
    """/etc/hosts lines for the nodes."""
    site = load(answers)
    _write(cluster_render.hosts(site, _clusters(site, cluster_name)), output)


@render.command()
@ANSWERS
@OUTPUT
def dns(answers, output):
    """Round-robin records for every cluster's floating IP (BIND zone fragment)."""
    site = load(answers)
    _write(cluster_render.dns(site, site.clusters), output)


def _clusters(site, name):
    return [site.cluster(name)] if name else site.clusters


@main.command()
@click.argument("path", type=click.Path(dir_okay=False), default=CLUSTER_CONF_PATH)
def validate(path):
    """Check a cluster.conf against the guide's rules and this node, or a CIB (render pacemaker -f cib,
    cibadmin --query) for settings that cannot win a split (0 clean, 1 problems, 2 unreadable)."""
    try:
        data = read_regular(path)
    except OSError as exc:
        raise ToolError("%s: cannot read: %s" % (path, exc.strerror)) from None
    problems = check(data)
    for line, message in problems:
        click.echo(one_line("%s:%d: %s" % (path, line, message)))
    if problems:
        click.echo("%s: %d problem%s" % (path, len(problems), "" if len(problems) == 1 else "s"), err=True)
        sys.exit(1)
    click.echo("%s: clean" % path)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--table", "as_table", is_flag=True, help="A table instead of one line.")
@click.option("--from", "source", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read recorded `clustat -x` or `crm_mon --output-as=xml` output instead of asking.")
@click.option("--cluster-conf", type=click.Path(dir_okay=False), default=CLUSTER_CONF_PATH,
              show_default=True, help="Where rgmanager's floating IP is configured.")
@click.option("--timeout", type=float_range(0.1, 300), default=10, show_default=True,
              help="Seconds to wait for crm_mon / clustat.")
@click.option("--resource", metavar="NAME",
              help="The service's group, resource or rgmanager service (default: the one running ocf:websense:mdlp "
                   "or the mdlp_rhcs script).")
def status(as_json, as_table, source, cluster_conf, timeout, resource):
    """Which node runs the mdlp service, its floating IP and state (exit 0 started, 1 failed, 3 stopped, 4 unknown)."""
    if source:
        text = read_utf8(source, cluster_status.StatusError)
        conf = read_utf8(cluster_conf, cluster_status.StatusError) if os.path.exists(cluster_conf) else None
        result = cluster_status.from_file(text, conf, resource)
    else:
        result = cluster_status.live(timeout, cluster_conf, resource)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
    elif as_table:
        click.echo(cluster_status.table(result))
    else:
        click.echo(cluster_status.line(result))
    sys.exit(cluster_status.exit_code(result))


def _duration(ctx, param, value):
    from .live.maintenance import duration
    try:
        return None if value is None else duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _reason(ctx, param, value):
    from .live.maintenance import reason
    try:
        return reason(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _said(lines):
    """What a maintenance change did: each line shown, and logged at its level."""
    for text, level, shown in lines:
        if shown:
            click.echo(one_line(text))
        if level:
            try:
                AgentLog(PROG).emit(level, text)
            except Exception:   # noqa: BLE001 -- logging never turns a done change into an error
                pass


@main.group()
def maintenance():
    """Planned work without a failover: the cluster stops acting on the service's health
    (nothing is stopped) -- and back.

    \b
    on [--for 30m] [--reason TEXT] [--cluster]   rgmanager: clusvcadm -Z; Pacemaker: maintenance=true
    off [--force]                               first a health check; refuses if a service is down
    status [--json]                             who set it, why, until when
    Exit codes: 0 done, 1 refused (service down, the cluster said no), 2 bad input or no cluster here.
    """


@maintenance.command("on")
@click.option("--for", "for_seconds", metavar="DURATION", callback=_duration,
              help="End by itself after DURATION (90s, 30m, 2h, 1h30m, 1d; up to 30 days).")
@click.option("--reason", "why", metavar="TEXT", callback=_reason, help="Why (shown by status and logged).")
@click.option("--cluster", "whole_cluster", is_flag=True,
              help="Pacemaker: the whole cluster's maintenance-mode instead of the service alone.")
@RESOURCE
@WAIT
@CLUSTER_CONF
def maintenance_on(for_seconds, why, whole_cluster, resource, timeout, cluster_conf):
    """Stop the cluster acting on the service's health, without stopping anything."""
    from .live.maintenance import Request
    _said(stack_here(timeout, resource, cluster_conf).maintenance_on(Request(for_seconds, why), whole_cluster))


@maintenance.command("off")
@click.option("--force", is_flag=True, help="End it even if the service is not healthy (no health check).")
@click.option("--expired", metavar="TOKEN", help="(The expiry job of `on --for` on rgmanager.)")
@RESOURCE
@WAIT
@CLUSTER_CONF
def maintenance_off(force, expired, resource, timeout, cluster_conf):
    """Let the cluster act on the service's health again -- after a health check."""
    import re
    stack = stack_here(timeout, resource, cluster_conf)
    if expired is not None:
        if not re.fullmatch(r"[0-9a-f]{16}", expired) or stack.name != "rgmanager":
            raise click.BadParameter("not an expiry job's token", param_hint="--expired")
        _said(stack.maintenance_off(expired=expired))
    else:
        _said(stack.maintenance_off(force=force))


@maintenance.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@RESOURCE
@WAIT
@CLUSTER_CONF
def maintenance_status(as_json, resource, timeout, cluster_conf):
    """Whether the service is in maintenance, set by whom, why and until when."""
    from .live.maintenance import status_lines
    state = stack_here(timeout, resource, cluster_conf).maintenance_state()
    if as_json:
        click.echo(json.dumps(state, sort_keys=True))
    else:
        for text in status_lines(state):
            click.echo(one_line(text))


@main.command()
@click.argument("answers", required=False, type=click.Path(dir_okay=False))
@click.option("--peer", metavar="NODE", callback=node_names,
              help="The partner to ask over ssh (default: the other node of this node's cluster in ANSWERS, "
                   "else in corosync.conf or cluster.conf).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option("--timeout", type=float_range(1, 120), default=10, show_default=True,
              help="Seconds for the partner's answer; the facts of each node get 70% of it.")
@click.option("--tls-port", type=click.IntRange(1, 65535), default=443, show_default=True,
              help="Where httpd serves the mobile agent's certificate (on 127.0.0.1).")
@click.option("--service-config", metavar="PATH", help="mdlp_rhcs.conf (default: ANSWERS' service_config, else "
              "/etc/mdlp_agents/mdlp_rhcs.conf).")
@click.option("--facts", is_flag=True, help="(On the partner, for doctor:) print this node's facts as JSON.")
@click.option("--names", metavar="N1,N2", callback=node_names, help="(--facts) the names to resolve.")
@click.option("--partner", metavar="NODE", callback=node_names, help="(--facts) the node asking.")
@click.option("--partner-address", metavar="IP", callback=address_option, help="(--facts) its cluster address.")
@click.option("--key-stdin", "key_stdin", is_flag=True,
              help="(--facts) read this run's key for comparing fence_mdlp.conf from stdin.")
def doctor(answers, peer, as_json, timeout, tls_port, service_config, facts, names, partner, partner_address,
           key_stdin):
    """Check the guide's checklist on this node and its partner: names, cluster traffic, clocks,
    the service, identical settings, fencing.  One line per check (OK, WARN, FAIL, SKIPPED, and
    the fix); exit 0 when nothing fails, 1 otherwise, 2 for bad input."""
    from . import doctor as doc
    from .doctor import facts as node_facts
    if facts:
        # over ssh, PATH is sshd's short default: the cluster's tools live in the sbin directories
        paths = os.environ.get("PATH", os.defpath).split(os.pathsep)
        os.environ["PATH"] = os.pathsep.join(paths + [d for d in SBIN_FIRST_PATH.split(":") if d not in paths])
        key = ""
        if key_stdin:
            key = sys.stdin.readline(100).strip()
            if not re.fullmatch(r"[0-9a-f]{32}", key):
                raise click.BadParameter("stdin holds no doctor's key", param_hint="--key-stdin")
        if partner and not partner_address:
            partner_address = node_facts.address_of(partner, min(timeout, 4))
        click.echo(json.dumps(node_facts.collect(
            names or [os.uname().nodename], partner, partner_address, node_facts.cluster_ports(), tls_port,
            service_config or MDLP_RHCS_CONF, key, total=timeout, step=min(4.0, timeout / 2))))
        return
    site = load(answers) if answers else None
    checks, elapsed = doc.run(site, peer, timeout, tls_port, service_config)
    text, code = doc.report(checks, elapsed, as_json)
    click.echo(text)
    sys.exit(code)


main.add_command(drill)


def run():
    """The mdlp-cluster command (bin/mdlp-cluster): usage errors (exit 2, as click's) and ours, each as
    one line with its own code."""
    prepare_click()
    internal = cluster_status.UNKNOWN if sys.argv[1:2] == ["status"] else 2   # status speaks LSB

    def body():
        result = parse(main, sys.argv[1:], PROG)
        return result if isinstance(result, int) else 0
    run_tool(body, _report, internal)

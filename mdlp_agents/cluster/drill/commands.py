"""`mdlp-cluster drill plan|check|run`: the commands; drill/ holds what they do."""

import json
import sys

import click

from ...common.clicompat import float_range
from ...common.text import one_line
from ..options import CLUSTER_CONF, PROG, RESOURCE, node_names, stack_here


@click.group()
def drill():
    """Prove failover on the live pair, with timings, and leave nothing broken.

    \b
    plan [STEP...]                   what each step does, expects, may take and how it is undone
    check                            non-destructive (safe from cron): is the pair ready for a drill?
    run [STEP...] [--json FILE]      the destructive steps, one at a time, confirmed by the cluster's name
    Steps: kill-SERVICE, hang-SERVICE (httpd, PolicyEngine, RProxyWD), switchover, fence-passive,
    partition, crash-active (only when named).
    Exit codes: plan 0 / 2; check 0 ready, 1 not ready, 2 bad input; run 0 all passed, 1 a step failed
    (the pair restored), 2 bad input, 3 refused by the guard, 4 the pair left unhealthy.
    """


PEER = click.option("--peer", metavar="NODE", callback=node_names,
                    help="The partner's name or address for ssh (default: the cluster's other node).")
DRILL_WAIT = click.option("--timeout", type=float_range(1, 120), default=10, show_default=True,
                          help="Seconds for each cluster command and ssh call.")
BOOT_TIME = click.option("--boot-time", type=float_range(10, 3600), default=600, show_default=True,
                         help="Seconds a fenced node may take to boot and rejoin.")


def _drill_start(steps, resource, timeout, cluster_conf):
    from .session import require_root
    from .steps import select
    require_root()
    chosen = select(steps)
    return chosen, stack_here(timeout, resource, cluster_conf)


@drill.command("plan")
@click.argument("steps", nargs=-1, metavar="[STEP]...")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@BOOT_TIME
@RESOURCE
@DRILL_WAIT
@CLUSTER_CONF
def drill_plan(steps, as_json, boot_time, resource, timeout, cluster_conf):
    """What each step will do, on which node, what must follow, its time budget and its undo
    (nothing is changed)."""
    from .plan import lines, plan
    chosen, stack = _drill_start(steps, resource, timeout, cluster_conf)
    view = stack.drill_view()
    planned = plan(stack, chosen, view, stack.local_node(), boot_time)
    if as_json:
        click.echo(json.dumps({"cluster": stack.cluster_name(), "active": view.get("active_node"),
                               "plan": planned}, sort_keys=True))
    else:
        for line in lines(planned):
            click.echo(one_line(line, 400))


@drill.command("check")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@PEER
@RESOURCE
@DRILL_WAIT
@CLUSTER_CONF
def drill_check(as_json, peer, resource, timeout, cluster_conf):
    """Is the pair ready for a drill?  The guard, each fence device asked for status from the other
    node, the floating IP over HTTP, both nodes' mdlp_rhcs status.  Changes nothing."""
    from . import session
    _, stack = _drill_start((), resource, timeout, cluster_conf)
    try:
        problems, found = session.check(stack, peer, timeout)
    except session.Refusal as exc:
        problems, found = [str(exc)], None
    if as_json:
        click.echo(json.dumps({"ready": not problems, "problems": problems}, sort_keys=True))
    else:
        for problem in problems:
            click.echo(one_line("NOT READY: " + problem, 400))
        if not problems:
            click.echo("ready for a drill: %s (active) and %s" % (found.view.get("active_node"),
                                                                  found.pair.other(found.view.get("active_node"))))
    sys.exit(1 if problems else 0)


@drill.command("run")
@click.argument("steps", nargs=-1, metavar="[STEP]...")
@click.option("--json", "json_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the record (plan, events, timings, verdicts) to FILE after every event.")
@click.option("--yes-i-know", "confirmed_name", metavar="CLUSTERNAME",
              help="Run without asking (automation): the cluster's name, as a confirmation.")
@PEER
@BOOT_TIME
@RESOURCE
@DRILL_WAIT
@CLUSTER_CONF
def drill_run(steps, json_path, confirmed_name, peer, boot_time, resource, timeout, cluster_conf):
    """The destructive steps, least disruptive first, one at a time: each judged on its expected
    outcome and timed against its budget, undone, and the pair guarded again."""
    from . import report, session
    from .plan import lines, plan
    from .record import Record
    chosen, stack = _drill_start(steps, resource, timeout, cluster_conf)
    unsupported = [s for s in chosen if s.kind in stack.drill_unsupported]
    if unsupported and steps:
        click.echo("refused: %s: %s" % (", ".join(s.name for s in unsupported),
                                        stack.drill_unsupported[unsupported[0].kind]))
        sys.exit(report.REFUSED)
    if unsupported:
        click.echo("left out on %s: %s (%s)" % (stack.name, ", ".join(s.name for s in unsupported),
                                               stack.drill_unsupported[unsupported[0].kind]))
        chosen = [s for s in chosen if s not in unsupported]
    name = stack.cluster_name()
    if confirmed_name is None and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise click.UsageError("no terminal to confirm on: pass --yes-i-know %s to run unattended" % name)
    if confirmed_name is not None and confirmed_name != name:
        click.echo("refused: --yes-i-know names %r; this is cluster %s" % (one_line(confirmed_name, 80), name))
        sys.exit(report.REFUSED)
    session.interrupt_on_signals()
    try:
        drill_session = session.Session(stack, peer, timeout)
    except session.Refusal as exc:
        click.echo("refused: %s" % exc)
        sys.exit(report.REFUSED)
    record = Record(json_path, name, drill_session.pair.me, drill_session.pair.peer, drill_session.clock)
    planned = plan(stack, chosen, drill_session.view, drill_session.pair.me, boot_time)
    record.data["plan"] = planned
    record.save()
    for line in lines(planned):
        click.echo(one_line(line, 400))

    def confirm():
        if confirmed_name is not None:
            return True
        typed = click.prompt("Type the cluster's name (%s) to run these steps on it" % name, default="",
                             show_default=False)
        return typed.strip() == name

    code = session.run(drill_session, chosen, record, lambda text: click.echo(one_line(text, 400)), confirm,
                       boot_time)
    if record.problem:
        click.echo("%s: %s" % (PROG, record.problem), err=True)
    sys.exit(code)


@drill.command("hold-lock")
def drill_hold_lock():
    """(Run by a drill on the partner, over ssh:) hold this node's drill lock until stdin closes."""
    from .lock import hold_here
    sys.exit(hold_here())

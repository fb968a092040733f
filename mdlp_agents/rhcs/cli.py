"""mdlp_rhcs: the command line.

    mdlp_rhcs ACTION [--config PATH] [--json] [-v]

rgmanager runs it as `mdlp_rhcs start|stop|status` (LSB exit codes; only zero
versus non-zero matters to it); Pacemaker runs it through an OCF link such as
/usr/lib/ocf/resource.d/websense/mdlp (OCF exit codes); admins run
`mdlp_rhcs status` by hand.

The cluster's calls carry exactly one argument; they are dispatched without
importing click, which costs more than the check itself (see bench/status).
Everything else goes through the click command.
"""

import os
import sys
import time

from ..common import exitcodes as ec
from ..common.convert import whole_number
from ..common.files import state_dir
from ..common.main import run_tool
from ..common.syslogging import AgentLog, facility_named
from ..common.text import one_line, one_line_words
from . import config as cfg
from . import report
from .config import AGENT_DEFAULTS
from .health import check_services, verdict
from .runstate import RunState

ACTIONS = ("start", "stop", "status", "monitor", "restart", "meta-data", "validate-all")
# OCF verbs we do not implement (no promotable clones, no reload, no migration).
OCF_UNIMPLEMENTED = ("notify", "promote", "demote", "reload", "reload-agent", "migrate_to",
                     "migrate_from", "recover", "methods", "usage")
LSB_UNIMPLEMENTED = ("reload", "force-reload", "try-restart", "condrestart")
IDENT = "mdlp_rhcs"


def is_ocf_invocation(argv0, environ=None):
    """Run through an OCF link (…/resource.d/PROVIDER/AGENT), or by the OCF front (bin/mdlp_ocf)
    installed there?  OCF_* variables alone prove nothing: rgmanager's script wrapper exports
    them too."""
    environ = os.environ if environ is None else environ
    return "/resource.d/" in argv0 or "/resource.d/" in environ.get("MDLP_RHCS_OCF_LINK", "")


class Agent:
    """One invocation: the mode (LSB or OCF), where output goes, the log."""

    def __init__(self, ocf, environ=None, out=None, err=None):
        self.ocf = ocf
        self.environ = os.environ if environ is None else environ
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.config = None
        self._log = None

    # -- plumbing -----------------------------------------------------------------
    @property
    def log(self):
        """syslog/journald; through the OCF link tagged and filed as resource-agents' ocf_log does:
        HA_LOGTAG, else mdlp_rhcs(INSTANCE); the facility HA_LOGFACILITY names (Pacemaker sets it)."""
        if self._log is None:
            socket_path = self.config.syslog_socket if self.config else "/dev/log"
            ident, facility, fields = IDENT, facility_named(None), {}
            if self.ocf:
                instance = self.environ.get("OCF_RESOURCE_INSTANCE")
                ident = self.environ.get("HA_LOGTAG") or ("%s(%s)" % (IDENT, instance) if instance else IDENT)
                facility = facility_named(self.environ.get("HA_LOGFACILITY"))
                if instance:
                    fields["resource_instance"] = instance
            self._log = AgentLog(ident, socket_path, facility, fields)
        return self._log

    def fail(self, code, message, level="error"):
        """One line on stderr and in the log; return CODE.  Through the OCF link the line is the
        exit reason Pacemaker records (ocf-shellfuncs' ocf_exit_reason: the prefix, then the text)."""
        self.say(message)
        self.log.emit(level, message)
        return code

    def say(self, message):
        """MESSAGE, one line on stderr: the exit reason, through the OCF link."""
        if self.ocf:
            prefix = one_line(self.environ.get("OCF_EXIT_REASON_PREFIX") or "ocf-exit-reason:", 64)
            self.err.write("%s%s\n" % (prefix, one_line_words(message)))
        else:
            self.err.write("%s: %s\n" % (IDENT, one_line(message)))

    def meta_ms(self, name):
        """OCF_RESKEY_CRM_meta_NAME, milliseconds: 0 when not given, None when it is not a number."""
        value = self.environ.get("OCF_RESKEY_CRM_meta_" + name) or "0"
        try:
            return whole_number(value)
        except ValueError:
            return None

    def is_probe(self, action):
        """Pacemaker's probe: a monitor with interval 0 (ocf_is_probe)."""
        return self.ocf and action in ("monitor", "status") and self.meta_ms("interval") == 0

    def load_config(self, cli_path, use_cache=True):
        """None, or the ConfigError that makes the configuration unusable."""
        path = cfg.resolve_path(cli_path, self.environ, self.ocf)
        try:
            self.config = cfg.load(path, use_cache)
        except cfg.ConfigError as exc:
            return exc
        return None

    def runstate(self):
        configured = self.config.state_dir if self.config else AGENT_DEFAULTS["state_dir"]
        return RunState(state_dir(configured))

    def _bounded_timeout(self, configured):
        """An action's time: the configured one, within Pacemaker's op timeout if it gave one."""
        meta = self.meta_ms("timeout") if self.ocf else None
        if meta:
            return max(1.0, min(configured, meta / 1000.0 - 2.0))
        return configured

    # -- actions ------------------------------------------------------------------
    def run(self, action, cli_config=None, as_json=False, verbose=False):
        if action == "meta-data":
            from .ocf_metadata import metadata_xml
            self.out.write(metadata_xml())
            return ec.OCF_SUCCESS
        if action not in ACTIONS:
            if self.ocf and action in OCF_UNIMPLEMENTED:
                return ec.OCF_ERR_UNIMPLEMENTED  # Pacemaker and ocf-tester ask; that is the answer
            if self.ocf or action in LSB_UNIMPLEMENTED:
                code = ec.OCF_ERR_UNIMPLEMENTED  # == LSB_ERR_UNIMPLEMENTED
            else:
                code = ec.LSB_ERR_ARGS
            return self.fail(code, "unknown action %r (use one of: %s)" % (action, ", ".join(ACTIONS)))
        if self.ocf and action in ("status", "monitor") and not self.is_probe(action):
            return self._recurring_monitor(cli_config, as_json, verbose)
        problem = self.load_config(cli_config, use_cache=action != "validate-all")
        if problem:
            return self._config_problem(action, problem)
        if action == "validate-all":
            return self.validate()
        if action in ("status", "monitor"):
            return self.status(as_json, verbose, probe=self.is_probe(action))
        if action == "start":
            return self.start()
        if action == "stop":
            return self.stop(force=False)
        return self.restart()

    def _recurring_monitor(self, cli_config, as_json, verbose):
        """Pacemaker's recurring monitor; a failure is answered in a later second than the op's
        last "ok" was recorded in (pacemaker_history: else the scheduler may never see it)."""
        problem = self.load_config(cli_config)
        code = self._config_problem("monitor", problem) if problem else self.status(as_json, verbose)
        if code != ec.OCF_SUCCESS:
            from .pacemaker_history import wait_past_last_change
            waited = wait_past_last_change(self.environ)
            if waited:
                self.log.info("monitor: " + waited)
        return code

    def _config_problem(self, action, error):
        problem = str(error)
        if action == "stop":
            # A failed stop puts rgmanager's service into "failed" and gets a Pacemaker node
            # fenced; with no usable configuration there is nothing we could stop, so give
            # up the role and say why.
            self.runstate().clear_active()
            self._end_watcher()
            self.fail(ec.OCF_SUCCESS, "stop: %s (marked inactive, no service stopped)" % problem)
            return ec.OCF_SUCCESS
        if self.ocf and action in ("monitor", "status"):
            state = self.runstate()
            if state.active_since() is None:
                # a probe on a node that never started the resource: it is not running here, and
                # that is no error (ocf-rarun: ocf_log info, exit $OCF_NOT_RUNNING)
                self.log.info("%s: not running here (%s)" % (action, problem))
                return ec.OCF_NOT_RUNNING
        return self.fail(error.exit_code if self.ocf else ec.LSB_ERR_CONFIGURED, problem)

    def validate(self, actions=("start", "stop", "init")):
        """5 ("not installed") naming the first program ACTIONS need that is missing, else 0."""
        from .validation import missing_programs
        missing = missing_programs(self.config, actions)
        if missing:
            return self.fail(ec.OCF_ERR_INSTALLED if self.ocf else ec.LSB_ERR_INSTALLED, missing[0])
        return ec.OCF_SUCCESS

    def _check(self, state):
        started = time.monotonic()
        statuses = check_services(self.config, runstate=state)
        return statuses, time.monotonic() - started

    def _log_changes(self, statuses, state):
        previous = state.last_states()
        current = {}
        for status in statuses:
            failure = status.failure
            detail = "%s: %s" % (failure.probe, failure.detail) if failure else ""
            current[status.name] = (status.state, detail)
            before = previous.get(status.name, ("RUNNING", ""))[0]
            if status.state == before:
                continue
            if status.ok:
                self.log.notice("service %s is back up (pid %s), was %s" % (status.name, status.pid, before),
                                service=status.name, state=status.state)
            else:
                self.log.warning("service %s is down: %s: %s" % (status.name, status.state, detail),
                                 service=status.name, state=status.state, probe=failure.probe)
        if current != previous:
            state.save_states(current)

    def status(self, as_json, verbose, probe=False):
        state = self.runstate()
        active_since = state.active_since()
        monitor = self.ocf  # through the OCF link, `status` is the legacy name of monitor
        if monitor and active_since is None:
            # The services run on both nodes; the resource runs only where it was started.
            if as_json or verbose:
                self.out.write("not active on this node\n")
            if not probe:   # a recurring monitor: Pacemaker started us here, and we do not know it
                self.say("not active on this node: no successful start recorded here since boot")
            return ec.OCF_NOT_RUNNING
        statuses, elapsed = self._check(state)
        self._log_changes(statuses, state)
        code, summary = verdict(statuses, monitor)
        if monitor and not probe and code == ec.OCF_SUCCESS:
            self._keep_watcher(state)
        # why, for crm_mon and pcs status (logged as a change): whenever a monitor after a start
        # fails, whatever its code; a probe only when it finds a failure, not a clean stop
        if monitor and code != ec.OCF_SUCCESS and (not probe or code != ec.OCF_NOT_RUNNING):
            self.say("; ".join(report.down(s) for s in statuses if not s.ok))
        maintenance = None
        if not monitor:   # Pacemaker does not monitor in maintenance; an admin or rgmanager asks
            from ..common.maintenance_record import local_notice
            maintenance = local_notice(warn=self.log.warning)
        if as_json:
            text = report.as_json(statuses, summary, active_since, code, elapsed, maintenance=maintenance)
        elif self.out.isatty():
            text = report.table(statuses, summary, active_since, verbose, maintenance=maintenance)
        else:
            text = report.one_line(statuses, summary, active_since, maintenance=maintenance)
        self.out.write(text + "\n")
        return code

    def start(self):
        from . import control
        timeout = self._bounded_timeout(self.config.start_timeout)
        self.log.info("start requested (%s)" % ("OCF" if self.ocf else "LSB"))
        code = self.validate(actions=("start",))
        if code:
            return code
        ok, message = control.start(self.config, self.log, timeout)
        if not ok:
            return self.fail(ec.OCF_ERR_GENERIC, "start failed: " + message)
        state = self.runstate()
        try:
            state.set_active(self.environ.get("OCF_RESOURCE_INSTANCE", ""))
        except OSError as exc:
            return self.fail(ec.OCF_ERR_GENERIC, "start: cannot record the active role: %s" % exc)
        if self.ocf and self.config.watch:
            self._start_watcher(state)
        self.log.notice("started: %s; this node is active" % message)
        self.out.write("mdlp: started; role active\n")
        return ec.OCF_SUCCESS

    def stop(self, force):
        from . import control
        state = self.runstate()
        state.clear_active()
        self._end_watcher(state)
        if self.config.stop_policy == "leave" and not force:
            self.log.info("stop: this node is no longer active; services left running (stop_policy = leave)")
            self.out.write("mdlp: stopped (services left running: stop_policy = leave)\n")
            return ec.OCF_SUCCESS
        timeout = self._bounded_timeout(self.config.stop_timeout)
        self.log.info("stop requested: stopping the services")
        ok, message = control.stop(self.config, self.log, timeout)
        if not ok:
            return self.fail(ec.OCF_ERR_GENERIC, "stop failed: " + message)
        self.log.notice("stopped: %s" % message)
        self.out.write("mdlp: stopped\n")
        return ec.OCF_SUCCESS

    # -- the watcher (OCF only: the front that reads its verdict is Pacemaker's door) ---------
    def _instance(self):
        return self.environ.get("OCF_RESOURCE_INSTANCE", "")

    def _start_watcher(self, state):
        from . import watcher
        try:
            pid = watcher.spawn(self.config.path, state.directory, self._instance())
        except OSError as exc:
            pid, why = None, str(exc)
        else:
            why = "resource instance %r cannot name a verdict file" % self._instance()
        if pid is None:
            self.log.warning("no watcher: %s; every monitor runs the full check in Python (a failure is "
                             "noticed at the next monitor, and every 500 ms that costs several %% of a core)" % why)
        return pid

    def _keep_watcher(self, state):
        """A recurring monitor that found everything healthy: the watcher should be running."""
        from . import watcher
        if not self.config.watch:
            return
        stuck = watcher.stuck(state.directory, self._instance())
        if stuck:
            self.log.warning("%s: ending it and starting another" % stuck)
            watcher.stop(state.directory, self._instance())
        elif watcher.running(state.directory, self._instance()):
            return
        pid = self._start_watcher(state)
        if pid:
            self.log.warning("the watcher of %s was not running (killed?): started again, pid %d"
                             % (self._instance(), pid))

    def _end_watcher(self, state=None):
        from . import watcher
        state = state or self.runstate()
        said = watcher.stop(state.directory, self._instance())
        if said:
            self.log.info("stop: " + said)

    def restart(self):
        code = self.stop(force=True)
        return code if code else self.start()


def build_command(ocf=False, environ=None):
    """The click command (also what tests drive with click.testing.CliRunner)."""
    import click

    from ..common.clicompat import version_option

    @click.command(name=IDENT, context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("action", metavar="ACTION", required=False)
    @click.option("--config", "-c", "config_path", metavar="PATH",
                  help="Configuration file (default: $MDLP_RHCS_CONF, else /etc/mdlp_agents/mdlp_rhcs.conf).")
    @click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
    @click.option("-v", "--verbose", is_flag=True, help="Show every probe's result.")
    @version_option(IDENT, "--version")
    def command(action, config_path, as_json, verbose):
        """Check, start or stop the Websense mobile DLP services (httpd, PolicyEngine,
        RProxyWD) for rgmanager, Pacemaker (through an OCF link) or an admin.

        \b
        ACTION is one of: start, stop, status, monitor, restart, meta-data, validate-all.
        Exit codes are LSB's (status: 0 running, 1 dead with a pidfile, 3 not running;
        6 not configured), or OCF's when run through an OCF link.
        """
        if action is None:   # said here: click 6.7, 7 and 8 each word it differently
            raise click.UsageError("Missing argument 'ACTION'.")
        agent = Agent(ocf, environ)
        sys.exit(agent.run(action, config_path, as_json, verbose))

    return command


def _run_click(ocf, args):
    from ..common.clicompat import parse
    result = parse(build_command(ocf), args, IDENT)
    return result if isinstance(result, int) else 0


def main(argv=None):
    argv = sys.argv if argv is None else argv
    ocf = is_ocf_invocation(argv[0] if argv else "")
    args = argv[1:]
    if len(args) == 1 and not args[0].startswith("-"):
        def body():
            return Agent(ocf).run(args[0])   # how rgmanager and Pacemaker call us
    else:
        def body():
            return _run_click(ocf, args)
    # what `status` answers when it cannot tell is LSB's "unknown"; everything else "generic error"
    internal = ec.LSB_STATUS_UNKNOWN if args[:1] == ["status"] and not ocf else ec.OCF_ERR_GENERIC
    run_tool(body, lambda message: Agent(ocf).fail(internal, message), internal)

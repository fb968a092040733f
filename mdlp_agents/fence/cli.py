"""fence_mdlp: the fence agent fenced and Pacemaker's fencer run.

With no arguments it reads key=value lines from stdin (fenced, Pacemaker);
with arguments it takes fence-agents style options.  Exit 0 only when a
backend confirmed the action; `status` 0 on, 2 off, 1 unknown.  stdout and
stderr get a line or two (fenced points them at a pipe nobody reads); the
whole story goes to syslog/journald: victim, action, backend, each attempt,
outcome, duration.  One deadline bounds the run: fenced waits forever on a
hung agent and stalls the whole cluster.
"""

import fcntl
import os
import sys
import time

from ..common.convert import seconds
from ..common.errors import AgentError
from ..common.exitcodes import FENCE_FAILED, FENCE_OK
from ..common.files import open_lock, state_dir
from ..common.main import ascii_safe_streams, exit_now, run_tool
from ..common.processes import signals
from . import options as fo
from . import site as site_config
from .actions import Actions
from .backends import FenceError, available, load
from .options import FenceInputError
from .runlog import IDENT, RunLog
from .runner import Runner

# fence-agents issues #68 and #596: "chassis power cycle" is answered before the node goes down,
# and fence_ipmilan reports success on that answer alone
METHOD_CYCLE_REFUSED = ("method=cycle is refused: a BMC answers a power cycle before anyone can see the node go "
                        "down, so it cannot be confirmed; use method=onoff (the default)")


class FenceRun:
    """One run of the agent: input, the site file, the deadline and the lock; the actions
    themselves are Actions', what it says RunLog's."""

    def __init__(self, out=None, err=None, environ=None):
        self.out = out or sys.stdout
        self.environ = os.environ if environ is None else environ
        self.site_path = self.environ.get(site_config.ENV) or site_config.PATH
        self.agent = dict(site_config.AGENT_KEYS)
        self.options = {}
        self.started = time.monotonic()
        self.runner = Runner()
        self.log = RunLog(err or sys.stderr)
        self._lock_fd = None

    # -- input ----------------------------------------------------------------------
    def read_input(self, args, stdin):
        if args:
            return parse_argv(args), []
        data = stdin.read(fo.STDIN_LIMIT + 1)
        if len(data) > fo.STDIN_LIMIT:
            raise FenceInputError("more than %d bytes on stdin: not a fence request" % fo.STDIN_LIMIT)
        return fo.parse_stdin(data)

    def load_site_config(self):
        """[fence] defaults from fence_mdlp.conf, if it exists; its [agent] settings go to self.agent."""
        site, agent, self.pending_warning = site_config.load(self.site_path)
        self.agent.update(agent)
        self.log.syslog_socket = self.agent["syslog_socket"]
        return site

    # -- the run --------------------------------------------------------------------
    def main(self, args, stdin):
        self.pending_warning = None
        # bounded from the first moment, by a value we checked: the default deadline until the
        # site file's is known, then the site's (a stdin that never reaches EOF must not hang us)
        default_deadline = float(fo.BY_NAME["deadline"].default)
        self.arm_deadline("read input", None, default_deadline)
        try:
            site, site_error = self.load_site_config(), None
        except FenceInputError as exc:  # reported below, unless only metadata is asked for
            site, site_error = {}, exc
        if "deadline" in site:
            try:
                self.arm_deadline("read input", None, seconds(site["deadline"], positive=True))
            except ValueError as exc:
                site_error = site_error or FenceInputError("%s [fence] deadline: %s" % (self.site_path, exc))
        given, unknown = self.read_input(args, stdin)
        action = str(given.get("action", "reboot")).lower()
        if action in ("metadata", "meta-data"):
            self.out.write(fo.metadata_xml())
            return FENCE_OK
        if action == "manpage":
            self.out.write(fo.manpage())
            return FENCE_OK
        if site_error is not None:
            raise site_error
        merged = fo.defaults()
        merged.update(site)
        merged.update(given)
        self.options = fo.normalize(merged)
        self.log.quiet = bool(self.options.get("quiet"))
        self.log.verbose = bool(self.options.get("verbose"))
        self.options["victim"] = fo.victim(self.options)
        if self.environ.get("PCMK_service") == "pacemaker-fenced":
            # as fencing.py: Pacemaker's fencer bounds the run (its timeout, plus pcmk_delay_base,
            # which it waits itself) and kills the agent's process group then: our children stay in
            # it, so that none outlives us; each call keeps its own timeout
            signals.setitimer(signals.ITIMER_REAL, 0)
            self.runner.own_sessions = False
        else:
            # the whole run's bound, before anything that may block (password_script, backends)
            self.arm_deadline(self.options["action"], self.options["victim"])
        if self.options.get("debug_file"):
            self.log.open_debug_file(self.options["debug_file"])
        if self.pending_warning:
            self.log.emit("warning", self.pending_warning)
        for key in unknown:
            self.log.emit("warning", "ignoring unknown parameter %r" % key)
        try:
            return self.act()
        finally:
            self.unlock()

    def act(self):
        opts = self.options
        action = opts["action"]
        victim = opts["victim"]
        if victim and opts.get("host_map") and not opts.get("ip"):
            mapping = fo.host_map(opts["host_map"])
            if victim in mapping:
                opts["ip"] = mapping[victim]
        if opts.get("password_script") and not opts.get("password"):
            opts["password"] = self.password_from_script(opts["password_script"])
        if opts.get("method") == "cycle" and action in ("reboot", "validate-all"):
            return self.log.fail(METHOD_CYCLE_REFUSED)
        names = [n.strip() for n in str(opts.get("backend") or "").split(",") if n.strip()]
        if not names:
            return self.log.fail("no fence backend configured: set backend= (%s) on stdin, with --backend, "
                                 "or in %s" % (", ".join(available()), site_config.PATH))
        try:
            backends = [load(name)(opts, self.log, self.runner) for name in names]
        except FenceError as exc:
            return self.log.fail(str(exc))
        if action in ("on", "off", "reboot") and not victim:
            return self.log.fail("no node to fence: give plug= (port=), nodename= or the device's own ip=")
        checked = [(backend, backend.validate()) for backend in backends]
        problems = ["backend %s: %s" % (b.name, p) for b, found in checked for p in found]
        if action == "validate-all":
            for problem in problems:
                self.log.fail(problem)
            return FENCE_FAILED if problems else FENCE_OK
        for problem in problems:
            self.log.emit("warning", problem)
        usable = [b for b, found in checked if not found]
        if not usable:
            return self.log.fail(problems[0])
        unlocked = None
        if action in ("on", "off", "reboot"):
            unlocked = self.lock(victim)
            if unlocked:
                self.log.emit("warning", "fencing %s without its lock: %s" % (victim, unlocked))
            if action in fo.FENCING_ACTIONS and opts.get("delay"):
                self.log.emit("info", "delay: waiting %gs before fencing %s" % (opts["delay"], victim))
                time.sleep(opts["delay"])
        actions = Actions(opts, self.log, self.runner, self.out, self.started, unlocked)
        return getattr(actions, "do_" + action.replace("-", "_"))(usable, victim)

    def password_from_script(self, script):
        try:
            code, out, _ = self.runner.run(["/bin/sh", "-c", script], self.options.get("login_timeout", 5))
        except FenceError as exc:
            raise FenceInputError("password_script: %s" % exc) from None
        if code != 0 or not out.strip():
            raise FenceInputError("password_script exited %d without a password" % code)
        return out.splitlines()[0]

    # -- bounds -----------------------------------------------------------------------
    def arm_deadline(self, action, victim, seconds=None):
        """Fail (exit 1) and kill our children once SECONDS pass: the deadline, plus the
        delay for off and reboot.  Arming again replaces the previous bound."""
        if seconds is None:  # the whole run, counted from its start
            seconds = float(self.options["deadline"])
            if action in fo.FENCING_ACTIONS:
                seconds += float(self.options.get("delay") or 0)
        remaining = max(0.001, seconds - (time.monotonic() - self.started))

        def expired(signum, frame):
            self.runner.kill_all()
            what = "%s of %s" % (action, victim) if victim else action
            self.log.fail("timed out after %gs: %s NOT confirmed" % (seconds, what))
            exit_now(FENCE_FAILED)

        signals.signal(signals.SIGALRM, expired)
        signals.setitimer(signals.ITIMER_REAL, remaining)

    def unlock(self):
        """The node's lock, released as soon as its fencing is done."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def lock(self, victim):
        """One fencing of a node at a time: a second request for it waits for the first.  None, or
        why there is no lock (then the run says so in its result)."""
        directory = state_dir(self.agent["state_dir"])
        if directory is None:
            return "no private state directory (%s)" % self.agent["state_dir"]
        try:
            self._lock_fd = open_lock(directory, lock_name(victim))
        except OSError as exc:
            return str(exc)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.log.emit("info", "another fence_mdlp is fencing %s: waiting for it" % victim)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        return None


_LOCK_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def lock_name(victim):
    """The lock file of VICTIM: fence-NAME.lock for a plain name, else a readable part and a
    digest of the whole (a name too long for a file name, or with characters a file name
    cannot hold, still gets a lock of its own)."""
    safe = "".join(c if c in _LOCK_CHARS else "_" for c in victim)
    if safe == victim and len(victim) <= 64 and not victim.startswith("."):
        return "fence-%s.lock" % victim
    import hashlib
    return "fence-%s-%s.lock" % (safe[:64], hashlib.sha256(victim.encode("utf-8", "surrogateescape")).hexdigest()[:16])


def parse_argv(args):
    """fence-agents style options -> {name: value} of what was given (click does the parsing)."""
    import click

    from ..common.clicompat import parse, version_option

    given = {}
    ran = []

    @click.command(name=IDENT, context_settings={"help_option_names": ["-h", "--help"]}, add_help_option=True)
    def command(**kwargs):
        ran.append(True)
        for key, value in kwargs.items():
            if value not in (None, False, 0):
                given[key] = "1" if value is True or key == "verbose" else str(value)  # -vv counts

    # appended to the command one by one: --help lists them in the table's order (fence_ipmilan's)
    for param in fo.PARAMS:
        decls = (["-" + param.short] if param.short else []) + ["--" + param.long]
        help_text = fo.help_text(param)
        if param.kind == "boolean":
            if param.name == "verbose":
                command = click.option(*decls, param.name, count=True, help=help_text)(command)
            else:
                command = click.option(*decls, param.name, is_flag=True, default=None, help=help_text)(command)
        else:
            command = click.option(*decls, param.name, metavar=param.metavar.upper(), help=help_text)(command)
    command = version_option(IDENT, "-V", "--version")(command)
    try:
        code = parse(command, args, IDENT)
    except AgentError as exc:   # fence agents know one failure code: 1, whatever click says
        raise FenceInputError(str(exc)) from None
    if not ran:  # --help or --version answered: nothing else may run (no default reboot!)
        exit_now(code if isinstance(code, int) else FENCE_OK)
    return given


def main(argv=None):
    argv = sys.argv if argv is None else argv
    ascii_safe_streams()   # before FenceRun holds the streams (run_tool's own call then does nothing)
    run = FenceRun()
    run_tool(lambda: run.main(argv[1:], sys.stdin), run.log.fail, FENCE_FAILED)

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
import signal
import stat
import sys
import time

from ..common.convert import seconds
from ..common.errors import AgentError
from ..common.exitcodes import FENCE_FAILED, FENCE_OK, FENCE_STATUS_OFF
from ..common.files import open_lock, state_dir
from ..common.main import ascii_safe_streams, exit_now, run_tool
from ..common.syslogging import AgentLog, LevelMethods
from . import options as fo
from . import site as site_config
from .backends import FenceError, available, load
from .options import FenceInputError
from .runner import Runner

IDENT = "fence_mdlp"
CONF_PATH, CONF_ENV, AGENT_KEYS = site_config.PATH, site_config.ENV, site_config.AGENT_KEYS
EXIT_OK, EXIT_FAIL, EXIT_OFF = FENCE_OK, FENCE_FAILED, FENCE_STATUS_OFF


class FenceRun(LevelMethods):
    """One run of the agent; also the log its backends write to (error() … debug())."""

    def __init__(self, out=None, err=None, environ=None):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.environ = os.environ if environ is None else environ
        self.site_path = self.environ.get(CONF_ENV) or CONF_PATH
        self.agent = dict(AGENT_KEYS)
        self.options = {}
        self.quiet = False
        self.debug_fd = None
        self.started = time.monotonic()
        self.runner = Runner()
        self._log = None

    # -- logging ------------------------------------------------------------------
    @property
    def log(self):
        if self._log is None:
            self._log = AgentLog(IDENT, self.agent["syslog_socket"])
        return self._log

    def emit(self, level, message, **fields):
        """A line for syslog/journald (and the debug file, and stderr with --verbose).
        `debug` lines (each command run, each successful check) skip syslog: a
        device `monitor` every minute must not fill /var/log/messages."""
        if level != "debug":
            self.log.emit(level, message, **fields)
        if self.debug_fd is not None:
            line = "%s %s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S"), level.upper(), message)
            try:
                os.write(self.debug_fd, line.encode("utf-8", "replace"))
            except OSError:
                pass
        if self.options.get("verbose") and not self.quiet:
            self.err.write("%s: %s\n" % (level.upper(), message))

    def shout(self, message, **fields):
        """A warning that also goes to stderr (unless quiet): noop's "nothing was fenced"."""
        self.emit("warning", message, **fields)
        if not self.quiet and not self.options.get("verbose"):
            self.err.write("%s: WARNING: %s\n" % (IDENT, message))

    def fail(self, message):
        """The one line fenced's pipe and Pacemaker's log get; exit 1."""
        self.emit("error", message)
        if not self.quiet and not self.options.get("verbose"):
            self.err.write("%s: %s\n" % (IDENT, message))
        return EXIT_FAIL

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
            return EXIT_OK
        if action == "manpage":
            self.out.write(fo.manpage())
            return EXIT_OK
        if site_error is not None:
            raise site_error
        merged = fo.defaults()
        merged.update(site)
        merged.update(given)
        self.options = fo.normalize(merged)
        self.quiet = bool(self.options.get("quiet"))
        self.options["victim"] = fo.victim(self.options)
        # the whole run's bound, before anything that may block (password_script, backends)
        self.arm_deadline(self.options["action"], self.options["victim"])
        self.open_debug_file(self.options.get("debug_file"))
        if self.pending_warning:
            self.emit("warning", self.pending_warning)
        for key in unknown:
            self.emit("warning", "ignoring unknown parameter %r" % key)
        return self.act()

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
        names = [n.strip() for n in str(opts.get("backend") or "").split(",") if n.strip()]
        if not names:
            return self.fail("no fence backend configured: set backend= (%s) on stdin, with --backend, or in "
                             "%s" % (", ".join(available()), CONF_PATH))
        try:
            backends = [load(name)(opts, self, self.runner) for name in names]
        except FenceError as exc:
            return self.fail(str(exc))
        if action in ("on", "off", "reboot") and not victim:
            return self.fail("no node to fence: give plug= (port=) or nodename=")
        checked = [(backend, backend.validate()) for backend in backends]
        problems = ["backend %s: %s" % (b.name, p) for b, found in checked for p in found]
        if action == "validate-all":
            for problem in problems:
                self.fail(problem)
            return EXIT_FAIL if problems else EXIT_OK
        for problem in problems:
            self.emit("warning", problem)
        usable = [b for b, found in checked if not found]
        if not usable:
            return self.fail(problems[0])
        if action in ("on", "off", "reboot"):
            self.lock(victim)
            if action in fo.FENCING_ACTIONS and opts.get("delay"):
                self.emit("info", "delay: waiting %gs before fencing %s" % (opts["delay"], victim))
                time.sleep(opts["delay"])
        return getattr(self, "do_" + action.replace("-", "_"))(usable, victim)

    def open_debug_file(self, path):
        """debug_file, opened once: appended to, created private, never through a link, and only
        if it is a regular file (a FIFO there would block every line, the timeout's included)."""
        if not path:
            return
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            self.emit("warning", "debug_file %s: %s; not writing it" % (path, exc.strerror))
            return
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            self.emit("warning", "debug_file %s is not a regular file; not writing it" % path)
            return
        self.debug_fd = fd

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
            self.fail("timed out after %gs: %s NOT confirmed" % (seconds, what))
            exit_now(EXIT_FAIL)

        signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, remaining)

    def lock(self, victim):
        """One fencing of a node at a time: a second request for it waits for the first."""

        directory = state_dir(self.agent["state_dir"])
        if directory is None:
            self.emit("warning", "no private state directory (%s): fencing %s without a lock"
                      % (self.agent["state_dir"], victim))
            return
        safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in victim)
        try:
            self._lock_fd = open_lock(directory, "fence-%s.lock" % safe)
        except OSError as exc:
            self.emit("warning", "fencing %s without a lock: %s" % (victim, exc))
            return
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.emit("info", "another fence_mdlp is fencing %s: waiting for it" % victim)
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    # -- actions ----------------------------------------------------------------------
    def _attempts(self, backends, what, step):
        """Try STEP(backend) with each backend, retry_on times each; the first success wins.
        The last failure's reason is kept in self.last_error."""
        tries = max(1, int(self.options.get("retry_on") or 1))
        self.last_error = "no backend"
        for backend in backends:
            for attempt in range(1, tries + 1):
                begun = time.monotonic()
                try:
                    result = step(backend)
                except FenceError as exc:
                    self.last_error = "%s: %s" % (backend.name, exc)
                    self.emit("warning", "%s via %s, attempt %d/%d failed after %.1fs: %s"
                              % (what, backend.name, attempt, tries, time.monotonic() - begun, exc),
                              backend=backend.name, action=what)
                    continue
                self.emit("notice" if self.options["action"] in ("on", "off", "reboot") else "debug",
                          "%s via %s succeeded (attempt %d, %.1fs)"
                          % (what, backend.name, attempt, time.monotonic() - begun),
                          backend=backend.name, action=what)
                return backend, result
        return None, None

    def _fence(self, backends, victim, action, step, success):
        self.emit("notice", "%s of %s requested (backends: %s)"
                  % (action, victim, ",".join(b.name for b in backends)), victim=victim, action=action)
        backend, _ = self._attempts(backends, "%s of %s" % (action, victim), step)
        elapsed = time.monotonic() - self.started
        if backend is None:
            return self.fail("%s of %s FAILED with every backend after %.1fs: NOT fenced (last: %s)"
                             % (action, victim, elapsed, self.last_error))
        self.out.write(success + "\n")
        self.emit("notice", "%s of %s done by %s in %.1fs" % (action, victim, backend.name, elapsed),
                  victim=victim, action=action, backend=backend.name)
        return EXIT_OK

    def do_off(self, backends, victim):
        return self._fence(backends, victim, "off", lambda b: b.power_off(), "Success: Powered OFF")

    def do_on(self, backends, victim):
        return self._fence(backends, victim, "on", lambda b: b.power_on(), "Success: Powered ON")

    def do_reboot(self, backends, victim):

        def reboot(backend):
            backend.power_off()
            try:
                backend.power_on()
            except FenceError as exc:  # fenced all the same: it is off
                self.emit("warning", "reboot of %s: confirmed off, but it did not come back on: %s"
                          % (victim, exc), backend=backend.name)
        return self._fence(backends, victim, "reboot", reboot, "Success: Rebooted")

    def do_status(self, backends, victim):
        backend, state = self._attempts(backends, "status of %s" % (victim or "device"), lambda b: b.status())
        if backend is None:
            return self.fail("status of %s: no backend could tell (last: %s)" % (victim or "device", self.last_error))
        self.out.write("Status: %s\n" % state.upper())
        return EXIT_OK if state == "on" else EXIT_OFF

    def do_monitor(self, backends, victim):
        def monitor(backend):
            if backend.options.get("ip") or not self.options.get("host_map"):
                return backend.monitor()
            # a device known only through host_map: it answers if any of its nodes' addresses does
            errors = []
            for node in fo.host_map(self.options["host_map"]):
                try:
                    return self._for_node(backend, node, "monitor").monitor()
                except FenceError as exc:
                    errors.append("%s: %s" % (node, exc))
            raise FenceError("; ".join(errors) or "host_map is empty")
        backend, _ = self._attempts(backends, "monitor", monitor)
        return EXIT_OK if backend else self.fail("monitor: no fencing device answers (last: %s)" % self.last_error)

    def do_list(self, backends, victim, with_status=False):
        backend, plugs = self._attempts(backends, "list", lambda b: b.list())
        if backend is None:
            return self.fail("list: no backend could list its nodes")
        for plug, alias in plugs:
            if with_status:
                self.out.write("%s,%s,%s\n" % (plug, alias or "", self._node_status(backend, plug)))
            else:
                self.out.write("%s,%s\n" % (plug, alias or ""))
        return EXIT_OK

    def _for_node(self, backend, node, action):
        """A backend like BACKEND aimed at NODE (its host_map address, else ip)."""
        address = fo.host_map(self.options.get("host_map") or "").get(node) or self.options.get("ip")
        return type(backend)(dict(self.options, victim=node, ip=address, action=action), self, self.runner)

    def _node_status(self, backend, node):
        """NODE's power as BACKEND sees it at NODE's host_map address; 'unknown' if it cannot tell."""
        try:
            return self._for_node(backend, node, "status").status()
        except FenceError as exc:
            self.emit("warning", "list-status: %s via %s: %s" % (node, backend.name, exc))
            return "unknown"

    def do_list_status(self, backends, victim):
        return self.do_list(backends, victim, with_status=True)


def parse_argv(args):
    """fence-agents style options -> {name: value} of what was given (click does the parsing)."""
    import click

    from ..common.clicompat import parse, version_option

    given = {}
    ran = []

    @click.command(name=IDENT, context_settings={"help_option_names": ["-h", "--help"]}, add_help_option=True)
    @version_option(IDENT, "-V", "--version")
    def command(**kwargs):
        ran.append(True)
        for key, value in kwargs.items():
            if value not in (None, False, 0):
                given[key] = "1" if value is True or key == "verbose" else str(value)  # -vv counts

    for param in reversed(fo.PARAMS):
        decls = (["-" + param.short] if param.short else []) + ["--" + param.long]
        help_text = param.shortdesc + ("" if param.default is None else " (default: %s)" % param.default)
        if param.kind == "boolean":
            if param.name == "verbose":
                command = click.option(*decls, param.name, count=True, help=help_text)(command)
            else:
                command = click.option(*decls, param.name, is_flag=True, default=None, help=help_text)(command)
        else:
            command = click.option(*decls, param.name, metavar=param.metavar.upper(), help=help_text)(command)
    try:
        code = parse(command, args, IDENT)
    except AgentError as exc:   # fence agents know one failure code: 1, whatever click says
        raise FenceInputError(str(exc)) from None
    if not ran:  # --help or --version answered: nothing else may run (no default reboot!)
        exit_now(code if isinstance(code, int) else EXIT_OK)
    return given


def main(argv=None):
    argv = sys.argv if argv is None else argv
    ascii_safe_streams()   # before FenceRun holds the streams (run_tool's own call then does nothing)
    run = FenceRun()
    run_tool(lambda: run.main(argv[1:], sys.stdin), run.fail, EXIT_FAIL)

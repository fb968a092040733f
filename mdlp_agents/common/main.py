"""The one main of every tool: whatever happens, one line and a documented exit code, never a
traceback; and leaving at once, children killed, even with a probe thread stuck in a system call.

Nothing heavy is imported here: `mdlp_rhcs status` starts through it every 30 seconds.
"""

import os
import sys

from .errors import AgentError
from .processes import SIGKILL

# Process groups of the commands we started and have not reaped yet (probes.run_bounded):
# leaving at once must not leave one of them running, one per poll, forever.
CHILD_GROUPS = set()


def run_tool(body, report, internal_error_code):
    """Leave with outcome(BODY, REPORT, INTERNAL_ERROR_CODE), at once."""
    ascii_safe_streams()   # before anything holds the streams
    exit_now(outcome(body, report, internal_error_code))


def outcome(body, report, internal_error_code):
    """BODY()'s exit code.  An AgentError is REPORT(message)'ed and gives its own code; any
    other exception is an "internal error" with INTERNAL_ERROR_CODE."""
    try:
        return body()
    except AgentError as exc:
        _report_safely(report, exc.format_message())
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        return internal_error_code
    except Exception as exc:  # noqa: BLE001 - one line and a failure code, never a traceback
        _report_safely(report, "internal error: %s: %s" % (type(exc).__name__, exc))
        return internal_error_code


def _report_safely(report, message):
    """REPORT(MESSAGE); a report that fails itself (stderr a closed pipe) changes nothing."""
    try:
        report(message)
    except Exception:  # noqa: BLE001
        pass


def exit_now(code):
    """Flush and leave at once, even if a probe thread is still stuck in a system call; kill
    the process groups of commands still running first."""
    try:
        for group in [g for g in CHILD_GROUPS if g > 0]:   # killpg(0) would be our own group
            try:
                os.killpg(group, SIGKILL)
            except OSError:
                pass
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                try:
                    stream.flush()
                except (OSError, ValueError):   # a closed pipe must not turn the code into a traceback
                    pass
    finally:
        os._exit(code)


def ascii_safe_streams():
    """Python 3.6 under an ASCII locale (LC_ALL=C, as rgmanager runs us; 3.7+ switches to UTF-8
    by itself there) raises on any non-ASCII character written to stdout/stderr -- a process
    name or a path from outside would turn an answer into a traceback.  Escape instead.  A
    second call does nothing."""
    if sys.version_info >= (3, 7):
        return
    import codecs
    import io
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or getattr(stream, "_mdlp_safe", False):
            continue
        try:
            if codecs.lookup(stream.encoding or "ascii").name != "ascii":
                continue
        except LookupError:
            pass
        stream.flush()
        safe = io.TextIOWrapper(stream.buffer, encoding="ascii", errors="backslashreplace",
                                line_buffering=stream.line_buffering or name == "stderr")
        safe._mdlp_safe = True
        setattr(sys, name, safe)   # the original stays referenced as sys.__stdout__/__stderr__

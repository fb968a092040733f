"""mdlp-agents: cluster agents for the Websense mobile DLP reverse proxy.

`mdlp_rhcs` is the health/resource agent (rgmanager script, OCF agent, admin
status tool); `fence_mdlp` the fence agent; `mdlp-cluster` the configuration
tool.  The version has one home, `__version__` below: setup.cfg reads it
(`attr:`), the Makefile and the RPM spec take it from here, and the agents
print it without asking package metadata (which Python 3.6 has no API for).
"""

__version__ = "0.1.0"


def version():
    return __version__


def ascii_safe_streams():
    """Python 3.6 under an ASCII locale (LC_ALL=C, as rgmanager runs us; 3.7+ switches to UTF-8
    by itself there) raises on any non-ASCII character written to stdout/stderr -- a process
    name or a path from outside would turn an answer into a traceback.  Escape instead.  Called
    first in each tool's main, before anything holds the streams; a second call does nothing."""
    import sys
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


def prepare_click():
    """Let click < 8 run where Python 3.6 sees an ASCII locale: click 6.7 and 7.x refuse to
    start then.  Our output is ASCII but for names an admin gave, escaped (ascii_safe_streams)."""
    import sys
    if sys.version_info >= (3, 7):
        return
    ascii_safe_streams()
    import click.core
    if hasattr(click.core, "_verify_python3_env"):
        click.core._verify_python3_env = lambda: None


def click_version_option(prog, *decls):
    """A --version option that prints the version and exits (click 6.7's API)."""
    import click

    def show(ctx, param, value):
        if value and not ctx.resilient_parsing:
            click.echo("%s, version %s" % (prog, version()))
            ctx.exit()

    return click.option(*decls, is_flag=True, expose_value=False, is_eager=True, callback=show,
                        help="Show the version and exit.")


def click_float_range(low, high):
    """click.FloatRange(low, high) where click has it (7.0+), an equivalent type on click 6.7."""
    import click
    if hasattr(click, "FloatRange"):
        return click.FloatRange(low, high)

    class FloatRange(click.ParamType):
        name = "float range"

        def convert(self, value, param, ctx):
            try:
                number = float(value)
            except (TypeError, ValueError):
                self.fail("%r is not a valid floating point value" % (value,), param, ctx)
            if not low <= number <= high:
                self.fail("%s is not in the valid range of %s to %s." % (number, low, high), param, ctx)
            return number

        def __repr__(self):
            return "FloatRange(%r, %r)" % (low, high)

    return FloatRange()

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


def prepare_click():
    """Let click < 8 run where Python 3.6 sees an ASCII locale (LC_ALL=C, as rgmanager runs
    us; Python 3.7+ switches to UTF-8 by itself there).  click 6.7 and 7.x refuse to start
    then; our output is ASCII but for names an admin gave, which stay readable escaped."""
    import sys
    if sys.version_info >= (3, 7):
        return
    import codecs
    import io
    import locale
    try:
        ascii_only = codecs.lookup(locale.getpreferredencoding()).name == "ascii"
    except Exception:   # noqa: BLE001 - an unknown locale is treated as ASCII, as click does
        ascii_only = True
    if not ascii_only:
        return
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        setattr(sys, name, io.TextIOWrapper(stream.buffer, encoding="ascii", errors="backslashreplace",
                                            line_buffering=stream.line_buffering))
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

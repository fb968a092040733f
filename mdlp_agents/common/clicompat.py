"""click as all three tools use it, the same on click 6.7 (EL8), 7.1 (EL9) and 8: imported only
on the paths that parse a command line."""

import sys

import click

from .. import version
from .errors import AgentError
from .main import ascii_safe_streams


def prepare_click():
    """Let click < 8 run where Python 3.6 sees an ASCII locale: click 6.7 and 7.x refuse to
    start then.  Our output is ASCII but for names an admin gave, escaped (ascii_safe_streams)."""
    if sys.version_info >= (3, 7):
        return
    ascii_safe_streams()
    import click.core
    if hasattr(click.core, "_verify_python3_env"):
        click.core._verify_python3_env = lambda: None


def parse(command, args, prog):
    """COMMAND.main(ARGS) without click's usage block: a usage error is one AgentError line with
    click's exit code.  Returns what the command returned, or the code --help/--version left with."""
    prepare_click()
    try:
        return command.main(args=args, prog_name=prog, standalone_mode=False)
    except click.ClickException as exc:
        raise AgentError("%s (see %s --help)" % (exc.format_message(), prog), exc.exit_code) from None
    except click.Abort:
        raise AgentError("aborted") from None


def version_option(prog, *decls):
    """A --version option that prints the version and exits (click 6.7's API)."""

    def show(ctx, param, value):
        if value and not ctx.resilient_parsing:
            click.echo("%s, version %s" % (prog, version()))
            ctx.exit()

    return click.option(*decls, is_flag=True, expose_value=False, is_eager=True, callback=show,
                        help="Show the version and exit.")


def float_range(low, high):
    """click.FloatRange(low, high) where click has it (7.0+), an equivalent type on click 6.7."""
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

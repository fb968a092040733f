"""mdlp-agents: cluster agents for the Websense mobile DLP reverse proxy.

`mdlp_rhcs` is the health/resource agent (rgmanager script, OCF agent, admin
status tool); `fence_mdlp` the fence agent.  The version has one home,
setup.cfg; version() reads it back from the installed package's metadata
(or from setup.cfg in a source checkout) only when something prints it.
"""

import os


def version():
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version
        try:
            return dist_version("mdlp-agents")
        except PackageNotFoundError:
            pass
    except ImportError:  # Python < 3.8
        pass
    setup_cfg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "setup.cfg")
    try:
        with open(setup_cfg, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.partition("=")
                if sep and key.strip() == "version":
                    return value.strip()
    except OSError:
        pass
    return "unknown"


def click_version_option(prog, *decls):
    """A --version option that looks the version up only when asked (not at every start)."""
    import click

    def show(ctx, param, value):
        if value and not ctx.resilient_parsing:
            click.echo("%s, version %s" % (prog, version()))
            ctx.exit()

    return click.option(*decls, is_flag=True, expose_value=False, is_eager=True, callback=show,
                        help="Show the version and exit.")

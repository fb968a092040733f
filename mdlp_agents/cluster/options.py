"""What mdlp-cluster's commands share: their name, the options naming the service and bounding the
cluster's commands, the checks of node names, the cluster manager found here."""

import click

from ..common.clicompat import float_range
from ..common.paths import CLUSTER_CONF as CLUSTER_CONF_PATH

PROG = "mdlp-cluster"

RESOURCE = click.option("--resource", metavar="NAME",
                        help="The service's group, resource or rgmanager service (default: the one running "
                             "ocf:websense:mdlp or the mdlp_rhcs script).")
WAIT = click.option("--timeout", type=float_range(1, 600), default=30, show_default=True,
                    help="Seconds to wait for each cluster command and for the cluster to act.")
CLUSTER_CONF = click.option("--cluster-conf", type=click.Path(dir_okay=False), default=CLUSTER_CONF_PATH,
                            show_default=True, help="rgmanager's configuration (which service, which script).")


def node_names(ctx, param, value):
    """Host names (or, for --peer, an address): they go into an ssh command line and XPath; checked by
    their grammar (an address with a scope id, free text in Python 3.9+, is refused)."""
    from ..common.convert import host_name, ip_address
    if value is None:
        return None
    names = [n for n in value.split(",") if n] if param.name == "names" else [value]
    for name in names:
        try:
            ip_address(name)
        except ValueError as not_address:
            try:
                host_name(name)
            except ValueError as exc:
                raise click.BadParameter(str(not_address if ":" in name else exc)) from None
    return names if param.name == "names" else value


def address_option(ctx, param, value):
    from ..common.convert import ip_address
    if value is None:
        return None
    try:
        return ip_address(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def stack_here(timeout, resource, cluster_conf):
    """The cluster manager that runs here (stacks.detect), asked with TIMEOUT."""
    from . import stacks
    return stacks.detect(stacks.LOCAL, timeout, resource, cluster_conf)

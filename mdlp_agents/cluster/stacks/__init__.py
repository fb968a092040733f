"""The cluster managers, behind one seam (base.Stack): detect() says which one runs here.

    stack = detect(LOCAL, timeout)        # Pacemaker or Rgmanager
    stack.status()                        # where the service runs, as the cluster sees it
    stack.maintenance_on(request) / maintenance_off() / maintenance_state()
    stack.fence_devices(node) / fence_history(node) / move(node)

Model: pcs keeps lib/cib and lib/pacemaker apart from lib/commands; here the commands (live/,
doctor/) hold their own logic and ask the stack for the rest."""

from ...common.files import find_program
from ...common.paths import CLUSTER_CONF
from .base import NotAnswering, Refused, Stack, empty_status, said, wait  # noqa: F401 (the seam's names)
from .pacemaker import Pacemaker
from .rgmanager import Rgmanager
from .runner import LOCAL, SshRunner  # noqa: F401

NO_MANAGER = "no cluster manager here: neither crm_mon (Pacemaker) nor clustat (rgmanager) is installed"


def installed():
    """The managers whose tools are installed here, Pacemaker first: [] , ["pacemaker"], ..."""
    return [name for name, tool in (("pacemaker", "crm_mon"), ("rgmanager", "clustat")) if find_program(tool)]


def _answers(pacemaker):
    try:
        return pacemaker.answers()
    except NotAnswering:        # crm_mon hung or cannot run: rgmanager may answer
        return False


def detect(runner, timeout, service=None, conf_path=CLUSTER_CONF, program=None):
    """The manager that runs here: Pacemaker where only it is installed, rgmanager where only it is;
    with both, Pacemaker if it answers.  NotAnswering when neither is installed."""
    found = installed()
    if "pacemaker" in found:
        pacemaker = Pacemaker(runner, timeout, service)
        if "rgmanager" not in found or _answers(pacemaker):
            return pacemaker
    if "rgmanager" in found:
        return Rgmanager(runner, timeout, service, conf_path, program)
    raise NotAnswering(NO_MANAGER)

"""The partner's facts, over the admin's own OpenSSH: `ssh -o BatchMode=yes -T PARTNER mdlp-cluster
doctor --facts ...` (no prompt ever; the admin's keys, known_hosts and ssh_config), this run's key
for comparing fence_mdlp.conf on ssh's stdin (an argv is anybody's to read in ps)."""

import json
import time

from ...common.errors import AgentError
from ...common.files import find_program
from ..stacks.runner import SshRunner, last_line

SHAPE = {"hostname": str, "time": (int, float), "nameservers": list, "resolve": dict, "addresses": list,
         "files": dict, "manager": dict, "agent": dict, "tls": dict, "firewall": dict, "fence": list}


class PeerError(AgentError):
    exit_code = 2


def peer_facts(pair, target, program, options, timeout):
    """(facts, None) from the partner over ssh, or (None, why)."""
    ssh = find_program("ssh")
    if not ssh:
        return None, "ssh is not installed here"
    remote = [program, "doctor", "--facts", "--names", ",".join(pair.names), "--partner", pair.me,
              "--timeout", "%g" % options["remote_timeout"], "--tls-port", str(options["tls_port"]),
              "--service-config", options["service_config"], "--key-stdin"]
    if options.get("me_address"):
        remote += ["--partner-address", options["me_address"]]
    runner = SshRunner(target, ssh, timeout / 2)
    try:
        proc = runner(remote, timeout, PeerError, input=options["key"] + "\n")
    except PeerError as exc:
        return None, "ssh %s: %s" % (target, exc)
    received = time.time()
    if proc.returncode == 255:
        return None, "ssh %s: %s" % (target, last_line(proc))
    try:
        facts = json.loads(proc.stdout)
    except ValueError:
        return None, "%s on %s did not answer with its facts (exit %d): %s" % (
            program, target, proc.returncode, last_line(proc, stdout=True))
    wrong = [key for key, kind in SHAPE.items() if not isinstance(facts, dict) or not isinstance(facts.get(key), kind)]
    if wrong:
        return None, "%s on %s answered facts of another shape (%s): the same mdlp-agents on both nodes?" % (
            program, target, ", ".join(wrong[:4]))
    facts["received"] = received
    return facts, None

"""What a node says about itself for `mdlp-cluster doctor`: gathered here, or on the partner through
`ssh PARTNER mdlp-cluster doctor --facts ...` (OpenSSH, BatchMode).  One JSON object, and no
secret in it: configuration files are compared by SHA-256 -- fence_mdlp.conf, which holds the BMC
password, only by an HMAC under a random key of this run that the doctor sends on ssh's stdin
(never in an argv), and never printed; without that key its digest is left out.  The fence
device's parameters go to its agent on stdin and nowhere else.

Every fact is gathered within one deadline (a Budget): a name that does not resolve, a port that
black-holes, a BMC that does not answer costs its share and becomes the fact's "error"."""

import hashlib
import hmac
import json
import os
import re
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ...common.errors import AgentError
from ...common.files import find_program, read_regular
from ...common.paths import CLUSTER_CONF, FENCE_CONF, GUIDE_SCRIPT, MDLP_RHCS_CONF, SBIN_FIRST_PATH
from ...common.text import one_line
from ...fence.site import load as load_fence_site
from .. import stacks
from ..site.render import PACEMAKER_PORTS, RHCS_PORTS
from ..stacks import cluster_conf
from ..stacks.runner import LOCAL, last_line
from . import detection
from .firewall import firewall


class FactError(AgentError):
    exit_code = 2


class Budget:
    """One deadline for all the facts: each step gets at most STEP seconds, and never more than is left."""

    def __init__(self, total, step=4.0):
        self.end = time.monotonic() + total
        self.step = step

    def __call__(self):
        return max(0.2, min(self.step, self.end - time.monotonic()))

    def rest(self):
        """All that is left (a BMC's own timeouts say more than ours)."""
        return max(0.2, self.end - time.monotonic())


def _bounded(timeout, work, *args):
    """WORK(*ARGS) in a thread, given up after TIMEOUT: ("ok", value) or ("error", why)."""
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        return "ok", pool.submit(work, *args).result(timeout=timeout)
    except FutureTimeout:
        return "error", "no answer within %gs" % timeout
    except Exception as exc:   # noqa: BLE001 -- a fact that cannot be had is the fact's error
        return "error", getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    finally:
        pool.shutdown(wait=False)


def address_of(name, timeout):
    """NAME's first address, or None if it does not resolve within TIMEOUT."""
    kind, found = _bounded(timeout, resolve, name)
    return found[0] if kind == "ok" and found else None


def resolve(name):
    infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    return sorted({info[4][0].split("%")[0] for info in infos})   # fe80::1%eth0: no scope (Python 3.6)


def addresses():
    import psutil
    found = []
    for interface, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6) or not entry.netmask:
                continue
            try:
                import ipaddress
                prefix = ipaddress.ip_network("%s/%s" % (entry.address.split("%")[0], entry.netmask),
                                              strict=False).prefixlen
            except ValueError:
                continue
            found.append({"interface": interface, "address": entry.address.split("%")[0], "prefix": prefix})
    return found


def nameservers(path="/etc/resolv.conf"):
    try:
        text = read_regular(path).decode("utf-8", "replace")
    except OSError:
        return []
    return [line.split()[1] for line in text.splitlines() if line.startswith("nameserver") and len(line.split()) > 1]


def file_fact(path, secret=None):
    """{sha256, size, mtime} of PATH, or {error}.  A file holding a password (SECRET not None) gets
    {hmac, mtime} under the key SECRET -- equal files, equal HMACs on both nodes, and nothing said
    about the password to anyone without the key, which lives only as long as the run -- or, with
    no key (""), {mtime} alone."""
    try:
        data = read_regular(path)
        info = os.stat(path)
    except FileNotFoundError:
        return {"error": "absent"}
    except OSError as exc:
        return {"error": exc.strerror or str(exc)}
    if secret is None:
        return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "mtime": int(info.st_mtime)}
    if not secret:          # a file with a password and no key to hide its digest: no digest
        return {"mtime": int(info.st_mtime)}
    return {"hmac": hmac.new(secret.encode(), data, hashlib.sha256).hexdigest(), "mtime": int(info.st_mtime)}


def cluster_ports(stack=None):
    """[(proto, port)] of the cluster traffic between the nodes: Pacemaker's where it is installed
    (or STACK says so), else the guide's rgmanager ports -- the lists `render firewall` admits."""
    stack = stack or ("pacemaker" if "pacemaker" in stacks.installed() else "rhcs")
    ports = []
    for proto, spec, _ in (PACEMAKER_PORTS if stack == "pacemaker" else RHCS_PORTS):
        ports += [(proto, int(p)) for p in spec.split(",")]
    return ports


def cluster_conf_fact(path=CLUSTER_CONF):
    fact = file_fact(path)
    if "error" not in fact:
        try:
            root = cluster_conf.read(path)
            fact["config_version"] = root.get("config_version")
            fact["name"] = root.get("name")
        except (OSError, AgentError) as exc:
            fact["parse_error"] = getattr(exc, "strerror", None) or str(exc)
    return fact


def manager(budget):
    """Which cluster manager runs here, and its configuration's digest."""
    found = stacks.installed()
    if "pacemaker" in found:
        try:
            text = stacks.Pacemaker(LOCAL, budget()).configuration_text()
            return {"name": "pacemaker", "running": True,
                    "configuration_sha256": hashlib.sha256(text.encode()).hexdigest()}
        except stacks.Refused as exc:
            if "rgmanager" not in found:
                return {"name": "pacemaker", "running": False, "why": str(exc)}
        except AgentError as exc:
            return {"name": "pacemaker", "running": False, "why": str(exc)}
    if "rgmanager" in found:
        try:
            stacks.Rgmanager(LOCAL, budget()).answering()
        except AgentError as exc:
            return {"name": "rgmanager", "running": False, "why": str(exc)}
        return {"name": "rgmanager", "running": True}
    return {"name": None, "running": False, "why": "no cluster manager installed (neither Pacemaker nor rgmanager)"}


def agent_program():
    """The mdlp_rhcs beside this mdlp-cluster (the same installation), else the guide's path."""
    here = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "mdlp_rhcs")
    return here if os.access(here, os.X_OK) else GUIDE_SCRIPT


def agent(config, budget):
    """`mdlp_rhcs validate-all` and `status --json` with CONFIG."""
    program = agent_program()
    result = {"program": program}
    try:
        proc = LOCAL([program, "validate-all", "--config", config], budget(), FactError)
        result["validate"] = {"rc": proc.returncode, "line": last_line(proc, stdout=True, default="")}
        proc = LOCAL([program, "status", "--json", "--config", config], budget(), FactError)
    except FactError as exc:
        result["error"] = str(exc)
        return result
    status = {"rc": proc.returncode}
    try:
        data = json.loads(proc.stdout)
        status.update(role=data.get("role"), summary=data.get("summary"),
                      down=[s["name"] for s in data.get("services", []) if s.get("state") != "RUNNING"],
                      states=sorted({str(s.get("state"))[:16] for s in data.get("services", [])}))
    except (ValueError, AttributeError, TypeError, KeyError):
        status["line"] = last_line(proc, stdout=True)
    result["status"] = status
    return result


def tls(port, budget):
    """The certificate served on 127.0.0.1:PORT: {subject, not_after} (openssl reads it), or {error}."""
    import ssl

    from ...common.tls import unverified_context
    context = unverified_context()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=budget()) as raw:
            with context.wrap_socket(raw) as conn:
                der = conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        return {"error": "127.0.0.1:%d: %s" % (port, getattr(exc, "strerror", None) or exc)}
    if not der:
        return {"error": "127.0.0.1:%d sent no certificate" % port}
    openssl = find_program("openssl")
    if not openssl:
        return {"error": "openssl is not installed: cannot read the certificate"}
    try:
        proc = LOCAL([openssl, "x509", "-noout", "-subject", "-enddate", "-nameopt", "RFC2253"], budget(),
                           FactError, input=ssl.DER_cert_to_PEM_cert(der))
    except FactError as exc:
        return {"error": str(exc)}
    fields = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    subject = one_line(fields.get("subject", "").strip())
    if proc.returncode != 0 or not subject:
        return {"error": "openssl could not read the certificate on 127.0.0.1:%d: %s" % (port, last_line(proc))}
    try:
        not_after = ssl.cert_time_to_seconds(fields.get("notAfter", "").strip())
    except ValueError:
        not_after = None
    return {"subject": subject, "not_after": not_after}


# -- fencing --------------------------------------------------------------------------------------
SECRET_KEYS = ("password", "passwd", "secret", "key")


def fence(partner, manager_name, budget):
    """Ask each device that fences PARTNER for its power status (never a power action)."""
    stack = (stacks.Pacemaker if manager_name == "pacemaker" else stacks.Rgmanager)(LOCAL, budget())
    try:
        devices = stack.fence_devices(partner)
    except (OSError, AgentError) as exc:
        return [{"error": "cannot read the fence configuration: %s" % (getattr(exc, "strerror", None) or exc)}]
    if not devices:
        return [{"error": "no fence device for %s in the cluster's configuration" % partner}]
    return [_device_status(name, agent_name, params, budget) for name, agent_name, params in devices]


def race(manager_name, budget):
    """What decides a split (stacks' race()), or {error}."""
    stack = (stacks.Pacemaker if manager_name == "pacemaker" else stacks.Rgmanager)(LOCAL, budget())
    try:
        return stack.race()
    except (OSError, AgentError) as exc:
        return {"error": "cannot read the fence configuration: %s" % (getattr(exc, "strerror", None) or exc)}


def _device_status(name, agent_name, params, budget):
    """{device, agent, address, backend, rc, answer, seconds} or {..., error}: the device's agent asked
    for `status` with the parameters on its stdin, as the fencer or fenced would give them."""
    fact = {"device": name, "agent": agent_name, "address": params.get("ip") or params.get("ipaddr")}
    backend = params.get("backend")
    if agent_name == "fence_mdlp" and not backend:
        try:
            backend = load_fence_site(FENCE_CONF)[0].get("backend")
        except AgentError as exc:
            fact["error"] = str(exc)
    fact["backend"] = backend
    program = find_program(agent_name or "", SBIN_FIRST_PATH) if re.fullmatch(r"fence_[\w-]+", agent_name or "") \
        else None
    if "error" in fact:
        return fact
    if not program:
        fact["error"] = "fence agent %s is not installed here" % agent_name
        return fact
    lines = ["%s=%s" % (k, v) for k, v in params.items() if "\n" not in k + v] + ["action=status"]
    started = time.monotonic()
    try:
        proc = LOCAL([program], budget.rest(), FactError, input="".join(line + "\n" for line in lines))
        said = last_line(proc, stdout=True)
        for key, value in params.items():   # an agent that echoes a secret does not get it shown
            if value and any(s in key.lower() for s in SECRET_KEYS):
                said = said.replace(value, "***")
        fact.update(rc=proc.returncode, answer=said)
    except FactError as exc:
        fact["error"] = str(exc)
    fact["seconds"] = round(time.monotonic() - started, 2)
    return fact


# -- all of it ------------------------------------------------------------------------------------
def collect(names, partner=None, partner_address=None, ports=(), tls_port=443, service_config=MDLP_RHCS_CONF,
            secret="", total=8.0, step=4.0):
    """This node's facts, gathered in parallel, all within TOTAL seconds (each step within STEP)."""
    budget = Budget(total, step)
    facts = {"hostname": os.uname().nodename}
    pool = ThreadPoolExecutor(max_workers=8)
    try:
        jobs = {"resolve": {name: pool.submit(_bounded, budget(), resolve, name) for name in names},
                "addresses": pool.submit(_bounded, budget(), addresses),
                "manager": pool.submit(manager, budget),
                "agent": pool.submit(agent, service_config, budget),
                "tls": pool.submit(tls, tls_port, budget)}
        facts["nameservers"] = nameservers()
        facts["files"] = {"mdlp_rhcs.conf": file_fact(service_config),
                          "fence_mdlp.conf": file_fact(FENCE_CONF, secret),
                          "cluster.conf": cluster_conf_fact()}
        facts["resolve"] = {name: dict(zip(("result", "value"), job.result())) for name, job in jobs["resolve"].items()}
        kind, value = jobs["addresses"].result()
        facts["addresses"] = value if kind == "ok" else []
        mine = next((a["interface"] for a in facts["addresses"] if a["address"] in sum(
            [r["value"] for r in facts["resolve"].values() if r["result"] == "ok"], [])), None)
        facts["firewall"] = firewall(partner_address, list(ports), budget, mine)
        facts["manager"] = jobs["manager"].result()
        running = facts["manager"]["running"]
        facts["fence"] = fence(partner, facts["manager"]["name"], budget) if partner and running else []
        facts["race"] = race(facts["manager"]["name"], budget) if running else \
            {"error": facts["manager"].get("why") or "the cluster manager is not running here"}
        facts["detection"] = detection.facts(facts["manager"]["name"], budget) if running else \
            {"error": facts["manager"].get("why") or "the cluster manager is not running here"}
        for key in ("agent", "tls"):
            facts[key] = jobs[key].result()
    finally:
        pool.shutdown(wait=False)
    facts["time"] = time.time()
    return facts

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
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from ..common.errors import AgentError
from ..common.files import find_program, read_regular
from ..fence.site import PATH as FENCE_CONF
from ..fence.site import load as load_fence_site
from ..rhcs.config import DEFAULT_PATH as MDLP_RHCS_CONF
from .commands import last_line
from .commands import run as run_command
from .status import GUIDE_SCRIPT

CLUSTER_CONF = "/etc/cluster/cluster.conf"
COROSYNC_CONF = "/etc/corosync/corosync.conf"
AGENT_DIRS = "/usr/sbin:/sbin:/usr/bin:/bin"


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


def cluster_conf_fact(path=CLUSTER_CONF):
    fact = file_fact(path)
    if "error" not in fact:
        try:
            root = ET.fromstring(read_regular(path))
            fact["config_version"] = root.get("config_version")
            fact["name"] = root.get("name")
        except (OSError, ET.ParseError) as exc:
            fact["parse_error"] = str(exc)
    return fact


def manager(budget):
    """Which cluster manager runs here, and its configuration's digest."""
    if find_program("crm_mon"):
        try:
            proc = run_command(["cibadmin", "--query", "--local", "--scope", "configuration"], budget(), FactError)
        except FactError as exc:
            return {"name": "pacemaker", "running": False, "why": str(exc)}
        if proc.returncode == 0 and proc.stdout.lstrip().startswith("<"):
            return {"name": "pacemaker", "running": True,
                    "configuration_sha256": hashlib.sha256(proc.stdout.encode()).hexdigest()}
        if not find_program("clustat"):
            return {"name": "pacemaker", "running": False, "why": "Pacemaker is not running here: cibadmin: %s"
                    % last_line(proc)}
    if find_program("clustat"):
        try:
            proc = run_command(["clustat", "-x"], budget(), FactError)
        except FactError as exc:
            return {"name": "rgmanager", "running": False, "why": str(exc)}
        if proc.returncode == 0 and "<clustat" in proc.stdout:
            return {"name": "rgmanager", "running": True}
        return {"name": "rgmanager", "running": False, "why": "rgmanager is not running here: clustat: %s"
                % last_line(proc)}
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
        proc = run_command([program, "validate-all", "--config", config], budget(), FactError)
        result["validate"] = {"rc": proc.returncode, "line": last_line(proc, stdout=True, default="")}
        proc = run_command([program, "status", "--json", "--config", config], budget(), FactError)
    except FactError as exc:
        result["error"] = str(exc)
        return result
    status = {"rc": proc.returncode}
    try:
        data = json.loads(proc.stdout)
        status.update(role=data.get("role"), summary=data.get("summary"),
                      down=[s["name"] for s in data.get("services", []) if s.get("state") != "RUNNING"])
    except (ValueError, AttributeError, TypeError, KeyError):
        status["line"] = last_line(proc, stdout=True)
    result["status"] = status
    return result


def tls(port, budget):
    """The certificate served on 127.0.0.1:PORT: {subject, not_after} (openssl reads it), or {error}."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
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
        proc = run_command([openssl, "x509", "-noout", "-subject", "-enddate", "-nameopt", "RFC2253"], budget(),
                           FactError, input=ssl.DER_cert_to_PEM_cert(der))
    except FactError as exc:
        return {"error": str(exc)}
    fields = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    subject = "".join(c if c.isprintable() else "?" for c in fields.get("subject", "").strip())
    if proc.returncode != 0 or not subject:
        return {"error": "openssl could not read the certificate on 127.0.0.1:%d: %s" % (port, last_line(proc))}
    try:
        not_after = ssl.cert_time_to_seconds(fields.get("notAfter", "").strip())
    except ValueError:
        not_after = None
    return {"subject": subject, "not_after": not_after}


# -- firewall -----------------------------------------------------------------------------------
def _ports(spec):
    ports = set()
    for part in spec.split(","):
        if ":" in part:
            low, high = part.split(":", 1)
            ports.update(range(int(low), int(high) + 1))
        elif part:
            ports.add(int(part))
    return ports


UNKNOWN = None


def _matches(words, source, proto, port):
    """True, False, or UNKNOWN (a match we do not model: -d, -m set, marks...) for one rule's words."""
    i = 2
    unknown = False
    while i < len(words):
        negate = words[i] == "!"
        if negate:
            i += 1
        word = words[i] if i < len(words) else ""
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in ("-j", "-g"):
            break
        if word in ("-s", "--source"):
            import ipaddress
            try:
                hit = ipaddress.ip_address(source) in ipaddress.ip_network(value, strict=False)
            except ValueError:
                hit = UNKNOWN
        elif word in ("-p", "--protocol"):
            hit = value in (proto, "all")
        elif word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            hit = port in _ports(value)
        elif word in ("-i", "--in-interface"):
            hit = False if value == "lo" else UNKNOWN    # the partner's traffic never comes in on lo
        elif word == "-m":
            i += 2
            continue
        elif word in ("--state", "--ctstate"):
            hit = "NEW" in value.split(",")
        elif word == "--comment":
            hit = True
        else:
            hit = UNKNOWN
        if hit is UNKNOWN:
            unknown = True
        elif hit == negate:
            return False
        i += 2
    return UNKNOWN if unknown else True


def evaluate(saved, source, proto, port):
    """What an iptables-save text does to a new PROTO packet from SOURCE to PORT in INPUT:
    (verdict ACCEPT|DROP|REJECT, the deciding rule or policy, [rules passed over that might
    have decided otherwise: they match on what we do not model])."""
    import shlex
    chains, policies = {}, {}
    table = None
    for line in saved.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
        elif table == "filter" and line.startswith(":"):
            name, policy = line[1:].split()[:2]
            chains.setdefault(name, [])
            policies[name] = policy
        elif table == "filter" and line.startswith("-A "):
            try:
                words = shlex.split(line)       # comments come quoted: --comment "mdlp cluster"
            except ValueError:
                words = line.split()
            chains.setdefault(words[1], []).append((line, words))
    doubts = []

    def walk(chain, depth):
        for line, words in chains.get(chain, []):
            hit = _matches(words, source, proto, port)
            target = words[words.index("-j") + 1] if "-j" in words[:-1] else None
            if hit is UNKNOWN:
                if target in ("ACCEPT", "DROP", "REJECT") or target in chains:
                    doubts.append(line)
                continue
            if not hit:
                continue
            if target in ("ACCEPT", "DROP", "REJECT"):
                return target, line
            if target == "RETURN":
                return "RETURN", line
            if target in chains and depth < 8:
                found = walk(target, depth + 1)
                if found and found[0] != "RETURN":
                    return found
        return None

    found = walk("INPUT", 0)
    verdict, rule = found if found and found[0] != "RETURN" else (policies.get("INPUT", "ACCEPT"), "policy of INPUT")
    return verdict, rule, doubts


def _firewalld(firewall_cmd, source, interface, ports, budget):
    """firewalld's answer: the high-availability service in the zone of the cluster interface (or the
    source's zone), or a rich rule admitting SOURCE to it."""
    zone = None
    for query in (["--get-zone-of-source=%s" % source], ["--get-zone-of-interface=%s" % interface] if interface
                  else None, ["--get-default-zone"]):
        if query:
            proc = run_command([firewall_cmd] + query, budget(), FactError)
            if proc.returncode == 0 and proc.stdout.strip():
                zone = proc.stdout.strip().split()[0]
                break
    if not zone or not re.fullmatch(r"[\w.-]+", zone):
        return {"error": "firewalld runs, but no zone applies to %s" % source}
    service = run_command([firewall_cmd, "--zone=%s" % zone, "--query-service=high-availability"], budget(),
                          FactError).returncode == 0
    rich = run_command([firewall_cmd, "--zone=%s" % zone, "--list-rich-rules"], budget(), FactError).stdout
    admitted = service or any('source address="%s"' % source in r and "high-availability" in r and r.endswith("accept")
                              for r in rich.splitlines())
    where = "firewalld zone %s: %s" % (zone, "service high-availability" if service else
                                       "a rich rule for %s" % source if admitted else "no high-availability service")
    return {"tool": "firewalld", "results": [[p, n, "ACCEPT" if admitted else "DROP", where, []] for p, n in ports]}


def firewall(source, ports, budget, interface=None):
    """For each (proto, port) the partner's cluster traffic uses: what this node's firewall does to it."""
    if not source:
        return {"error": "the partner's address is not known"}
    try:
        firewall_cmd = find_program("firewall-cmd")
        if firewall_cmd and run_command([firewall_cmd, "--state"], budget(), FactError).returncode == 0:
            return _firewalld(firewall_cmd, source, interface, ports, budget)
        saver = find_program("iptables-save")
        if not saver:
            return {"tool": None, "results": [], "error": "neither firewalld nor iptables here: not checked"}
        proc = run_command([saver], budget(), FactError)
    except FactError as exc:
        return {"error": str(exc)}
    if proc.returncode != 0:
        return {"error": "iptables-save: %s" % last_line(proc)}
    return {"tool": "iptables", "results": [[p, n] + list(evaluate(proc.stdout, source, p, n)) for p, n in ports]}


# -- fencing --------------------------------------------------------------------------------------
def _split_hosts(text):
    return [h for h in re.split(r"[\s,;]+", text or "") if h]


def fence_devices_for(partner, cib_text=None, cluster_conf_text=None):
    """[(device name, agent, {parameter: value})] that fence PARTNER, from the CIB's stonith
    primitives or cluster.conf's fence method -- the parameters as the fencer or fenced would pass
    them (Pacemaker: no pcmk_* keys, port= from pcmk_host_map, else the node's name)."""
    devices = []
    if cib_text:
        root = ET.fromstring(cib_text)
        for primitive in root.iter("primitive"):
            if primitive.get("class") != "stonith":
                continue
            params = {}
            for block in primitive.findall("instance_attributes"):
                for pair in block.findall("nvpair"):
                    params[pair.get("name")] = pair.get("value") or ""
            hosts = _split_hosts(params.get("pcmk_host_list"))
            mapped = dict(entry.split(":", 1) for entry in _split_hosts(params.get("pcmk_host_map")) if ":" in entry)
            if partner in hosts or partner in mapped or not (hosts or mapped):
                passed = {k: v for k, v in params.items() if not k.startswith("pcmk_")}
                passed.setdefault("nodename", partner)
                if "port" not in passed and "plug" not in passed:
                    passed["port"] = mapped.get(partner, partner)
                devices.append((primitive.get("id"), primitive.get("type"), passed))
    elif cluster_conf_text:
        root = ET.fromstring(cluster_conf_text)
        for node in root.iter("clusternode"):
            if node.get("name") != partner:
                continue
            method = node.find("fence/method")
            for device in (method.findall("device") if method is not None else []):
                shared = next((d for d in root.iter("fencedevice") if d.get("name") == device.get("name")), None)
                if shared is None:
                    continue
                params = {k: v for k, v in shared.attrib.items() if k not in ("name", "agent")}
                params.update({k: v for k, v in device.attrib.items() if k != "name"})
                params.setdefault("nodename", partner)
                devices.append((device.get("name"), shared.get("agent"), params))
    return devices


SECRET_KEYS = ("password", "passwd", "secret", "key")


def fence(partner, manager_name, budget):
    """Ask each device that fences PARTNER for its power status (never a power action)."""
    try:
        if manager_name == "pacemaker":
            proc = run_command(["cibadmin", "--query", "--local", "--scope", "resources"], budget(), FactError)
            devices = fence_devices_for(partner, cib_text=proc.stdout if proc.returncode == 0 else None)
        else:
            devices = fence_devices_for(partner, cluster_conf_text=read_regular(CLUSTER_CONF).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ET.ParseError, FactError) as exc:
        return [{"error": "cannot read the fence configuration: %s" % (getattr(exc, "strerror", None) or exc)}]
    if not devices:
        return [{"error": "no fence device for %s in the cluster's configuration" % partner}]
    results = []
    for name, agent_name, params in devices:
        fact = {"device": name, "agent": agent_name, "address": params.get("ip") or params.get("ipaddr")}
        backend = params.get("backend")
        if agent_name == "fence_mdlp" and not backend:
            try:
                backend = load_fence_site(FENCE_CONF)[0].get("backend")
            except AgentError as exc:
                fact["error"] = str(exc)
        fact["backend"] = backend
        program = find_program(agent_name or "", AGENT_DIRS) if re.fullmatch(r"fence_[\w-]+", agent_name or "") \
            else None
        if "error" in fact:
            pass
        elif not program:
            fact["error"] = "fence agent %s is not installed here" % agent_name
        else:
            lines = ["%s=%s" % (k, v) for k, v in params.items() if "\n" not in k + v] + ["action=status"]
            started = time.monotonic()
            try:
                proc = run_command([program], budget.rest(), FactError, input="".join(line + "\n" for line in lines))
                said = last_line(proc, stdout=True)
                for key, value in params.items():   # an agent that echoes a secret does not get it shown
                    if value and any(s in key.lower() for s in SECRET_KEYS):
                        said = said.replace(value, "***")
                fact.update(rc=proc.returncode, answer=said)
            except FactError as exc:
                fact["error"] = str(exc)
            fact["seconds"] = round(time.monotonic() - started, 2)
        results.append(fact)
    return results


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
        facts["fence"] = fence(partner, facts["manager"]["name"], budget) if partner and facts["manager"]["running"] \
            else []
        for key in ("agent", "tls"):
            facts[key] = jobs[key].result()
    finally:
        pool.shutdown(wait=False)
    facts["time"] = time.time()
    return facts

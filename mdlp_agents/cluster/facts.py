"""What a node says about itself for `mdlp-cluster doctor`: gathered here, or on the partner through
`ssh PARTNER mdlp-cluster doctor --facts ...` (OpenSSH, BatchMode).  One JSON object, and no
secret in it: configuration files are compared by SHA-256 (fence_mdlp.conf, which holds the BMC
password, not even by that: by equality of hashes computed on each side, the digest never leaves
the node -- see `seal`); the fence device's parameters go to its agent on stdin and nowhere else.

Every fact is gathered within a deadline: a name that does not resolve, a port that black-holes,
a BMC that does not answer costs its timeout and becomes the fact's "error"."""

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
from .commands import last_line
from .commands import run as run_command

MDLP_RHCS_CONF = "/etc/mdlp_agents/mdlp_rhcs.conf"
FENCE_CONF = "/etc/mdlp_agents/fence_mdlp.conf"
CLUSTER_CONF = "/etc/cluster/cluster.conf"
COROSYNC_CONF = "/etc/corosync/corosync.conf"
SCRIPT = "/opt/websense/rproxy/cs/mdlp_rhcs"
AGENT_DIRS = "/usr/sbin:/sbin:/usr/bin:/bin"


class FactError(AgentError):
    exit_code = 2


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


def resolve(name):
    infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    return sorted({info[4][0] for info in infos})


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


def file_fact(path, secret_key=None):
    """{sha256, size, mtime} of PATH, or {error}.  With SECRET_KEY, the digest is keyed (HMAC with
    a key the doctor made for this run): equal files give equal digests on both nodes, and the
    digest says nothing about a password to anyone without the key -- which leaves with the run."""
    try:
        data = read_regular(path)
        info = os.stat(path)
    except FileNotFoundError:
        return {"error": "absent"}
    except OSError as exc:
        return {"error": exc.strerror or str(exc)}
    digest = (hmac.new(secret_key.encode(), data, hashlib.sha256) if secret_key else hashlib.sha256(data)).hexdigest()
    return {"sha256": digest, "size": len(data), "mtime": int(info.st_mtime)}


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


def manager(timeout):
    """Which cluster manager runs here, and its configuration's digest."""
    if find_program("crm_mon"):
        try:
            proc = run_command(["cibadmin", "--query", "--local", "--scope", "configuration"], timeout, FactError)
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
            proc = run_command(["clustat", "-x"], timeout, FactError)
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
    return here if os.access(here, os.X_OK) else SCRIPT


def agent(config, timeout):
    """`mdlp_rhcs validate-all` and `status --json` with CONFIG."""
    program = agent_program()
    result = {"program": program}
    try:
        proc = run_command([program, "validate-all", "--config", config], timeout, FactError)
        result["validate"] = {"rc": proc.returncode, "line": last_line(proc, stdout=True, default="")}
        proc = run_command([program, "status", "--json", "--config", config], timeout, FactError)
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


def tls(port, timeout):
    """The certificate served on 127.0.0.1:PORT: {subject, not_after} (openssl reads it), or {error}."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
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
        proc = run_command([openssl, "x509", "-noout", "-subject", "-enddate", "-nameopt", "RFC2253"], timeout,
                           FactError, input=ssl.DER_cert_to_PEM_cert(der))
    except FactError as exc:
        return {"error": str(exc)}
    fields = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    subject = fields.get("subject", "").strip()
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


def _matches(rule, source, proto, port):
    """True, False, or None (a match we do not model) for one -A rule's words."""
    words = rule.split()
    i = 2
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""
        negate = False
        if word == "!":
            negate, i = True, i + 1
            word = words[i]
            value = words[i + 1] if i + 1 < len(words) else ""
        if word in ("-j", "-g"):
            return True
        if word in ("-s", "--source"):
            import ipaddress
            hit = ipaddress.ip_address(source) in ipaddress.ip_network(value, strict=False)
        elif word in ("-p", "--protocol"):
            hit = value in (proto, "all")
        elif word in ("--dport", "--destination-port", "--dports", "--destination-ports"):
            hit = port in _ports(value)
        elif word == "-m" and value in ("multiport", "tcp", "udp", "comment"):
            hit = True
        elif word == "-m" and value in ("state", "conntrack"):
            i += 2
            continue
        elif word in ("--state", "--ctstate"):
            hit = "NEW" in value.split(",")
        elif word == "--comment":
            hit = True
        elif word in ("-i", "--in-interface"):
            hit = None
        else:
            return None
        if hit is None:
            return None
        if hit == negate:
            return False
        i += 2
    return True


def evaluate(saved, source, proto, port):
    """What an iptables-save text does to a new PROTO packet from SOURCE to PORT in INPUT:
    ("ACCEPT"|"DROP"|"REJECT", the deciding rule or policy)."""
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
            chains.setdefault(line.split()[1], []).append(line)

    def walk(chain, depth):
        for rule in chains.get(chain, []):
            hit = _matches(rule, source, proto, port)
            if not hit:
                continue
            words = rule.split()
            target = words[words.index("-j") + 1] if "-j" in words else None
            if target in ("ACCEPT", "DROP", "REJECT"):
                return target, rule
            if target in chains and depth < 8:
                found = walk(target, depth + 1)
                if found:
                    return found
        return None

    return walk("INPUT", 0) or (policies.get("INPUT", "ACCEPT"), "policy of INPUT")


def firewall(source, ports, timeout):
    """For each (proto, port) the partner's cluster traffic uses: what this node's firewall does to it."""
    if not source:
        return {"error": "the partner's address is not known"}
    firewall_cmd = find_program("firewall-cmd")
    if firewall_cmd:
        try:
            state = run_command([firewall_cmd, "--state"], timeout, FactError)
        except FactError as exc:
            return {"error": str(exc)}
        if state.returncode == 0:
            query = run_command([firewall_cmd, "--query-service=high-availability"], timeout, FactError)
            verdict = "ACCEPT" if query.returncode == 0 else "DROP"
            return {"tool": "firewalld", "results": [[p, n, verdict, "firewalld service high-availability"]
                                                     for p, n in ports]}
    saver = find_program("iptables-save")
    if not saver:
        return {"tool": None, "results": [], "error": "neither firewalld nor iptables here: nothing filters"}
    try:
        proc = run_command([saver], timeout, FactError)
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
    primitives or cluster.conf's fence method."""
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
            mapped = [entry.split(":")[0] for entry in _split_hosts(params.get("pcmk_host_map"))]
            if partner in hosts or partner in mapped or not (hosts or mapped):
                devices.append((primitive.get("id"), primitive.get("type"),
                                {k: v for k, v in params.items() if not k.startswith("pcmk_")}))
    elif cluster_conf_text:
        root = ET.fromstring(cluster_conf_text)
        for node in root.iter("clusternode"):
            if node.get("name") != partner:
                continue
            method = node.find("fence/method")
            for device in (method.findall("device") if method is not None else []):
                shared = root.find("fencedevices/fencedevice[@name='%s']" % device.get("name"))
                if shared is None:
                    continue
                params = {k: v for k, v in shared.attrib.items() if k not in ("name", "agent")}
                params.update({k: v for k, v in device.attrib.items() if k != "name"})
                devices.append((device.get("name"), shared.get("agent"), params))
    return devices


SECRET_KEYS = ("password", "passwd", "secret", "key", "kg_key", "kgkey")


def fence(partner, manager_name, timeout):
    """Ask each device that fences PARTNER for its power status (never a power action)."""
    try:
        if manager_name == "pacemaker":
            proc = run_command(["cibadmin", "--query", "--local", "--scope", "resources"], timeout, FactError)
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
                from ..fence.site import PATH, load
                backend = load(PATH)[0].get("backend")
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
            lines = ["%s=%s" % (k, v) for k, v in params.items() if "\n" not in k + v]
            lines += ["nodename=%s" % partner, "port=%s" % partner, "action=status"]
            started = time.monotonic()
            try:
                proc = run_command([program], timeout, FactError, input="".join(line + "\n" for line in lines))
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
            secret_key=None, timeout=4.0):
    """This node's facts, gathered in parallel, each within TIMEOUT."""
    facts = {"hostname": os.uname().nodename}
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = {"resolve": {name: pool.submit(_bounded, timeout, resolve, name) for name in names},
                "addresses": pool.submit(_bounded, timeout, addresses),
                "manager": pool.submit(manager, timeout),
                "agent": pool.submit(agent, service_config, timeout),
                "tls": pool.submit(tls, tls_port, timeout),
                "firewall": pool.submit(firewall, partner_address, list(ports), timeout)}
        facts["nameservers"] = nameservers()
        facts["files"] = {"mdlp_rhcs.conf": file_fact(service_config),
                          "fence_mdlp.conf": file_fact(FENCE_CONF, secret_key or "unkeyed"),
                          "cluster.conf": cluster_conf_fact()}
        facts["resolve"] = {name: dict(zip(("result", "value"), job.result())) for name, job in jobs["resolve"].items()}
        kind, value = jobs["addresses"].result()
        facts["addresses"] = value if kind == "ok" else []
        facts["manager"] = jobs["manager"].result()
        facts["fence"] = fence(partner, facts["manager"]["name"], timeout) if partner and facts["manager"]["running"] \
            else []
        for key in ("agent", "tls", "firewall"):
            facts[key] = jobs[key].result()
    facts["time"] = time.time()
    return facts

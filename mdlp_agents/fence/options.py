"""fence_mdlp's parameters: one table for stdin, command line, site defaults,
validation and metadata -- spoken as fence-agents' fencing.py speaks them.

Names: the new long names (`ip`, `username`, `password`, `plug`, …) and the
old ones fenced and old cluster.conf files use (`ipaddr`, `login`, `passwd`,
`port`, `option`, …); `-` and `_` are interchangeable; the last occurrence wins.
"""

from ..common.convert import MAX_SECONDS, boolean
from ..common.errors import AgentError
from ..common.escape import roff
from ..common.escape import xml as xml_escape
from ..common.manpages import heading

ACTIONS = ("on", "off", "reboot", "status", "monitor", "list", "list-status", "metadata",
           "manpage", "validate-all")
FENCING_ACTIONS = ("off", "reboot")   # `delay` applies to these
# fencing.py's wording of -o's help
ACTION_HELP = "Action: %s or %s" % (", ".join(a + " (default)" if a == "reboot" else a for a in ACTIONS[:-1]),
                                    ACTIONS[-1])
STDIN_LIMIT = 64 * 1024


class FenceInputError(AgentError):
    """Bad input: one line for stderr and the log; exit 1 (fence-agents' EC_GENERIC_ERROR)."""


class Param:
    __slots__ = ("name", "short", "long", "kind", "default", "required", "shortdesc", "obsoletes",
                 "choices", "secret", "metavar", "shown_default")

    def __init__(self, name, short=None, kind="string", default=None, required=False, shortdesc="",
                 obsoletes=None, choices=None, secret=False, metavar=None, long=None, shown_default=None):
        self.name = name
        self.short = short
        self.long = long or name.replace("_", "-")
        self.kind = kind
        self.default = default
        self.required = required
        self.shortdesc = shortdesc
        self.obsoletes = obsoletes
        self.choices = choices
        self.secret = secret
        self.metavar = metavar or name
        # a default that depends on the backend: documented as fence_ipmilan's, applied by the backend
        self.shown_default = shown_default

    @property
    def documented_default(self):
        return self.default if self.default is not None else self.shown_default


# In fence_ipmilan's order (fencing.py sorts its help by each option's "order"): the device's
# address and credentials, the node and the action, then logging, then timing.
PARAMS = (
    Param("ip", "a", shortdesc="IP address or hostname of the BMC (ipmi) or of the node (ssh)",
          obsoletes="ipaddr"),
    Param("ipport", "u", kind="integer", shown_default="623", shortdesc="TCP/UDP port to use (the ssh "
          "backend's default: 22)"),
    Param("username", "l", shortdesc="Login name", obsoletes="login"),
    Param("password", "p", shortdesc="Login password or passphrase", obsoletes="passwd", secret=True),
    Param("password_script", "S", shortdesc="Script to run to retrieve password", obsoletes="passwd_script",
          metavar="script"),
    Param("plug", "n", shortdesc="The node to fence (its name in the cluster); fenced's nodename= is used "
          "when no plug is given, the device's own address (ip) when neither is", obsoletes="port", metavar="id"),
    Param("action", "o", default="reboot", required=True, shortdesc="Fencing action", metavar="action"),
    Param("method", "m", kind="select", default="onoff", choices=("onoff", "cycle"),
          shortdesc="Method to fence (onoff|cycle); cycle is refused: a BMC says it cycled before anyone can "
          "see the node go down", metavar="method"),
    Param("backend", None, shortdesc="Fencing backend, or a comma list tried in order until one confirms: "
          "noop, ipmi, ssh, or one a site registers", metavar="name[,name...]"),
    Param("lanplus", "P", kind="boolean", default="1", shortdesc="Use Lanplus (IPMI 2.0) to improve security "
          "of connection"),
    Param("cipher", "C", shortdesc="Ciphersuite to use (same as ipmitool -C parameter)"),
    Param("privlvl", "L", kind="select", default="administrator",
          choices=("callback", "user", "operator", "administrator"), shortdesc="Privilege level on IPMI device"),
    Param("hexadecimal_kg", None, shortdesc="Hexadecimal-encoded Kg key for IPMIv2 authentication (handed to "
          "ipmitool in its environment, never on its command line)", secret=True, metavar="key"),
    Param("ipmitool_path", None, shortdesc="Path to ipmitool binary (default: ipmitool found on PATH)",
          metavar="path"),
    Param("identity_file", "k", shortdesc="Identity file (private key) for SSH", metavar="filename"),
    Param("ssh_options", None, shortdesc="SSH options to use (e.g. -o StrictHostKeyChecking=no)",
          metavar="options"),
    Param("ssh_path", None, default="/usr/bin/ssh", shortdesc="Path to ssh binary", metavar="path"),
    Param("vip", None, shortdesc="Floating IP the victim must lose (ssh backend)", metavar="address"),
    Param("kill_processes", None, default="httpd,PolicyEngine,RProxyWD",
          shortdesc="Processes the ssh backend kills on the victim", metavar="names"),
    Param("host_map", None, shortdesc="Addresses by node name for ip, as node1:addr1;node2:addr2",
          metavar="map"),
    Param("quiet", "q", kind="boolean", shortdesc="Disable logging to stderr. Does not affect --verbose or "
          "--debug-file or logging to syslog."),
    Param("verbose", "v", kind="boolean", shortdesc="Verbose mode"),
    Param("debug_file", "D", shortdesc="Write debug information to given file", obsoletes="debug",
          metavar="file"),
    Param("power_timeout", None, kind="second", default="20",
          shortdesc="Test X seconds for status change after ON/OFF", metavar="seconds"),
    Param("shell_timeout", None, kind="second", default="3",
          shortdesc="Wait X seconds for cmd prompt after issuing command", metavar="seconds"),
    Param("login_timeout", None, kind="second", default="5",
          shortdesc="Wait X seconds for cmd prompt after login", metavar="seconds"),
    Param("power_wait", None, kind="second", shown_default="2",
          shortdesc="Wait X seconds after issuing ON/OFF (the ssh backend's default: 0)",
          metavar="seconds"),
    Param("delay", None, kind="second", default="0", shortdesc="Wait X seconds before fencing is started",
          metavar="seconds"),
    Param("deadline", None, kind="second", default="50",
          shortdesc="Give up and fail after X seconds for the whole run (fenced waits forever; under "
          "Pacemaker's fencer its own timeout bounds the run)", metavar="seconds"),
    Param("port_as_ip", None, kind="boolean", shortdesc="Make \"port/plug\" to be an alias to IP address"),
    Param("retry_on", None, kind="integer", default="1", shortdesc="Count of attempts to retry power on",
          metavar="attempts"),
)
BY_NAME = {p.name: p for p in PARAMS}
# keys fenced and Pacemaker send that are not parameters of ours: accepted quietly
QUIET_KEYS = {"nodename", "agent", "name"}
ALIASES = {}
for _p in PARAMS:
    ALIASES[_p.name] = _p.name
    if _p.obsoletes:
        ALIASES[_p.obsoletes] = _p.name
ALIASES["option"] = "action"


def canonical(key):
    """The parameter a stdin or config key means, or None."""
    key = key.strip().replace("-", "_")
    if key in QUIET_KEYS:
        return key
    return ALIASES.get(key)


def parse_stdin(text):
    """fenced / Pacemaker stdin -> ({name: value}, [unknown keys]).  Raises FenceInputError."""
    values, unknown = {}, []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            # the line itself is not echoed: it could be a mistyped "passwd secret"
            raise FenceInputError("stdin line %d is not key=value (%d characters, no '=')" % (number, len(line)))
        key, value = line.split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        name = canonical(key)
        if name is None:
            unknown.append(key.strip())
            continue
        values[name] = value
    return values, unknown


def normalize(values):
    """Check and convert values (after defaults are merged); returns a new dict."""
    result = {}
    for name, value in values.items():
        param = BY_NAME.get(name)
        if param is None:
            result[name] = value
            continue
        if param.kind == "boolean":
            try:   # a bare flag (`lanplus` alone on stdin) means yes, as fencing.py reads it
                value = True if str(value).strip() == "" else boolean(value)
            except ValueError as exc:
                raise FenceInputError("%s=%s" % (name, exc)) from None
        elif param.kind in ("integer", "second"):
            try:
                value = float(value) if param.kind == "second" else int(value)
            except (TypeError, ValueError):
                raise FenceInputError("%s=%r is not a valid %s" % (
                    name, value, "time in seconds" if param.kind == "second" else "number")) from None
            if value < 0 or value != value or value == float("inf"):
                raise FenceInputError("%s=%r must be a finite number, not negative" % (name, value))
            if name == "deadline" and value <= 0:
                raise FenceInputError("deadline=%r: the run must be bounded (fenced waits forever)" % value)
            if param.kind == "second" and value > MAX_SECONDS:
                raise FenceInputError("%s=%r: more than %g seconds is not a bound" % (name, value, MAX_SECONDS))
        elif param.kind == "select":
            value = str(value).lower()
            if value not in param.choices:
                raise FenceInputError("%s=%r: use one of %s" % (name, value, ", ".join(param.choices)))
        result[name] = value
    action = str(result.get("action", "reboot")).lower()
    result["action"] = "metadata" if action == "meta-data" else action
    if result.get("port_as_ip") and result.get("plug"):   # fencing.py: the plug is the device's address
        result["ip"] = result["plug"]
    if result["action"] not in ACTIONS:
        # fencing.py's words: Pacemaker's fencer reads "unrecognised action" as "not supported"
        raise FenceInputError("Failed: Unrecognised action %r (use one of: %s)"
                              % (result["action"], ", ".join(ACTIONS)))
    return result


def help_text(param):
    """PARAM's line in --help and the man page: fencing.py's action list for -o, else its short
    description and the default it documents."""
    if param.name == "action":
        return ACTION_HELP
    shown = param.documented_default
    return param.shortdesc + ("" if shown is None else " (default: %s)" % shown)


def defaults():
    return {p.name: p.default for p in PARAMS if p.default is not None}


def victim(values):
    """The node to fence: plug (or port), else fenced's nodename (mapped through host_map for ip),
    else the device's own address: a BMC's address names its node, as with fence_ipmilan."""
    return values.get("plug") or values.get("nodename") or values.get("ip")


def host_map(text):
    """'node1:addr1;node2:addr2' -> dict, read as Pacemaker reads pcmk_host_map: entries apart by
    ';', spaces or tabs (and ',', ours), node and address apart at the first ':' or '='."""
    mapping = {}
    for item in text.replace(",", ";").replace("\t", ";").replace(" ", ";").split(";"):
        if not item:
            continue
        cut = min(i for i in (item.find(":"), item.find("="), len(item)) if i >= 0)
        key, sep, value = item[:cut], item[cut:cut + 1], item[cut + 1:]
        if not sep or not key.strip() or not value.strip():
            raise FenceInputError("host_map entry %r is not node:address" % item)
        mapping[key.strip()] = value.strip()
    return mapping


# -- metadata (fence-agents' format; valid against metadata.rng) ---------------------
def _getopt(param):
    forms = []
    if param.short:
        forms.append("-" + param.short)
    long_form = "--" + param.long
    if param.kind != "boolean":
        long_form += "=[%s]" % param.metavar
    forms.append(long_form)
    return ", ".join(forms)


def _parameter_xml(name, param, required, extra):
    lines = ['\t<parameter name="%s" unique="0" required="%d"%s>' % (name, 1 if required else 0, extra),
             '\t\t<getopt mixed="%s" />' % xml_escape(_getopt(param))]
    shown = param.documented_default
    default = ' default="%s"' % xml_escape(shown) if shown is not None else ""
    if param.kind == "select":
        lines.append('\t\t<content type="select"%s >' % default)
        lines.extend('\t\t\t<option value="%s" />' % xml_escape(c) for c in param.choices)
        lines.append("\t\t</content>")
    else:
        lines.append('\t\t<content type="%s"%s />' % (param.kind, default))
    lines.append('\t\t<shortdesc lang="en">%s</shortdesc>' % xml_escape(param.shortdesc))
    lines.append("\t</parameter>")
    return lines


LONGDESC = ("fence_mdlp fences a node of a Websense mobile DLP cluster (the guide's 2-node "
            "rgmanager or Pacemaker cluster) through pluggable backends: ipmi (IPMI 2.0 lanplus chassis "
            "power control of the node's BMC, confirmed by the BMC), ssh (kill httpd, PolicyEngine and "
            "RProxyWD and remove the floating IP on the node, then verify), noop (the guide's /bin/true, "
            "logged loudly as not fencing). A comma list of backends is tried in order until one confirms. "
            "Site defaults (and secrets) may live in /etc/mdlp_agents/fence_mdlp.conf.")


def metadata_xml():
    lines = ['<?xml version="1.0" ?>',
             '<resource-agent name="fence_mdlp" shortdesc="Fence agent for the Websense mobile DLP cluster '
             '(IPMI, SSH or no-op backends)" >',
             "<longdesc>%s</longdesc>" % xml_escape(LONGDESC),
             "<vendor-url>https://www.websense.com</vendor-url>",
             "<parameters>"]
    for param in PARAMS:
        if param.obsoletes:
            lines += _parameter_xml(param.name, param, param.required, ' obsoletes="%s"' % param.obsoletes)
            lines += _parameter_xml(param.obsoletes, param, param.required, ' deprecated="1"')
        else:
            lines += _parameter_xml(param.name, param, param.required, "")
    lines.append("</parameters>")
    lines.append("<actions>")
    lines.append('\t<action name="on" automatic="0"/>')
    lines.extend('\t<action name="%s" />' % a for a in ACTIONS if a != "on")
    lines.append("</actions>")
    lines.append("</resource-agent>")
    return "\n".join(lines) + "\n"


def manpage():
    """A troff man page from the same table (fence-agents generates theirs from metadata)."""
    lines = heading("fence_mdlp", "fence agent for the Websense mobile DLP cluster") + [
             ".SH SYNOPSIS", ".B fence_mdlp", "[\\fIOPTION\\fR]...", ".br",
             "(no option: key=value lines on standard input, as fenced and Pacemaker send them)",
             ".SH DESCRIPTION", roff(LONGDESC), ".SH OPTIONS"]
    for param in PARAMS:
        lines += [".TP", ".B %s" % roff(_getopt(param)),
                  roff(help_text(param)),
                  "On stdin: %s=%s" % (roff(param.name), "" if param.kind == "boolean" else "VALUE")
                  + (" (old name: %s)" % roff(param.obsoletes) if param.obsoletes else "")]
    lines += [".SH ACTIONS", roff(", ".join(ACTIONS)), ".SH EXIT STATUS",
              "0 success; 1 failure, including anything not confirmed and any timeout; "
              "for status: 0 on, 2 off, 1 unknown.",
              ".SH FILES", "/etc/mdlp_agents/fence_mdlp.conf \\- site defaults ([fence] section, same names)"]
    return "\n".join(lines) + "\n"

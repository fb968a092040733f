"""The mdlp_rhcs configuration file: INI, read and checked in one place.

Every problem becomes one ConfigError whose text names the file, the section
and the key, so that the CLI can print one line and exit "not configured".
"""

import io
import os
import pwd

from ..common import cache
from ..common import exitcodes as ec
from ..common.convert import boolean, seconds
from ..common.errors import AgentError
from ..common.files import distrust, open_regular
from ..common.paths import MDLP_RHCS_CONF, STATE_DIR

DEFAULT_PATH = MDLP_RHCS_CONF
ENV_PATH = "MDLP_RHCS_CONF"

STOP_POLICIES = ("leave", "stop")
PROBE_KEYS = ("process", "pidfile", "tcp", "http", "init")
SERVICE_KEYS = PROBE_KEYS + ("user", "start", "stop", "timeout")
AGENT_KEYS = ("deadline", "stop_policy", "start_timeout", "stop_timeout",
              "state_dir", "syslog_socket", "watch", "check_interval", "restart_grace")

AGENT_DEFAULTS = {
    "deadline": 10.0,
    "stop_policy": "leave",
    "start_timeout": 60.0,
    "stop_timeout": 60.0,
    "state_dir": STATE_DIR,
    "syslog_socket": "/dev/log",
    # the watcher OCF `start` leaves running (watcher.py): every probe each check_interval, a
    # dead master's replacement waited for restart_grace before the verdict says "failed"
    "watch": True,
    "check_interval": 3.0,
    "restart_grace": 0.1,
}
MAX_CHECK_INTERVAL = 3600.0
MAX_RESTART_GRACE = 5.0
PROBE_TIMEOUT_DEFAULT = 2.0


class ConfigError(AgentError):
    """A configuration problem; str() is the one line an admin sees."""

    exit_code = ec.OCF_ERR_CONFIGURED   # == LSB_ERR_CONFIGURED


class ConfigMissing(ConfigError):
    """The file is not there or cannot be read (this node's problem, not the cluster's)."""

    # OCF: a file missing on this node only; Pacemaker should try another node (5), not give
    # up the resource everywhere (6).  LSB has no such distinction: "not configured" (6).
    exit_code = ec.OCF_ERR_INSTALLED


class Service:
    """One `[service NAME]` section."""

    __slots__ = ("name",) + SERVICE_KEYS + ("tcp_addr", "http_url", "uid")

    def __init__(self, name):
        self.name = name
        for key in SERVICE_KEYS:
            setattr(self, key, None)
        self.timeout = PROBE_TIMEOUT_DEFAULT
        self.tcp_addr = None       # (host, port)
        self.http_url = None       # (scheme, host, port, path)
        self.uid = None            # `user`, resolved: process/pidfile must belong to it

    def probes(self):
        return [k for k in PROBE_KEYS if getattr(self, k)]


class Config:
    def __init__(self, path):
        self.path = path
        self.services = []
        for key, value in AGENT_DEFAULTS.items():
            setattr(self, key, value)

    @property
    def probe_kinds(self):
        kinds = set()
        for svc in self.services:
            kinds.update(svc.probes())
        return kinds


def resolve_path(cli_path=None, environ=os.environ, ocf=False):
    """--config, else OCF_RESKEY_config (OCF agent), else $MDLP_RHCS_CONF, else the default."""
    if cli_path:
        return cli_path
    if ocf and environ.get("OCF_RESKEY_config"):
        return environ["OCF_RESKEY_config"]
    return environ.get(ENV_PATH) or DEFAULT_PATH


def _where(path, section, key=None):
    where = "%s: [%s]" % (path, section)
    return where + " " + key if key else where


def _positive_number(path, section, key, value):
    try:
        return seconds(value, positive=True)
    except ValueError as exc:
        raise ConfigError("%s: %s" % (_where(path, section, key), exc)) from None


def parse_hostport(text):
    """'127.0.0.1:443', '[::1]:443', 'localhost:80' -> (host, port); ValueError if not."""
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
        if ":" in host:
            raise ValueError("IPv6 address must be in brackets")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT")
    return host, int(port)


def parse_url(text):
    """http(s) URL -> (scheme, host, port, path); ValueError if not usable."""
    scheme, sep, rest = text.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    netloc, slash, path = rest.partition("/")
    path = slash + path if slash else "/"
    if "@" in netloc:
        raise ValueError("credentials in the URL are not supported")
    default_port = 443 if scheme == "https" else 80
    if netloc.startswith("[") and netloc.endswith("]"):
        host, port = netloc[1:-1], default_port
    elif netloc.startswith("[") or netloc.count(":") == 1:
        host, port = parse_hostport(netloc)
    else:
        host, port = netloc, default_port
    if not host or ":" in host and not netloc.startswith("["):
        raise ValueError("no host in the URL")
    return scheme, host, port, path


def load(path, use_cache=True):
    """Read and check PATH; return a Config or raise ConfigError.

    A file that was valid is remembered (see ParsedCache): the cluster's
    30-second status then skips configparser, the largest part of its start-up.
    The cache key and the text come from the same open file."""

    try:
        raw = open_regular(path)   # never blocks: a FIFO here is an error, not a hang
    except FileNotFoundError:
        raise ConfigMissing("%s: configuration file not found" % path) from None
    except OSError as exc:
        raise ConfigMissing("%s: cannot read configuration: %s" % (path, exc.strerror)) from None
    with raw:
        info = os.fstat(raw.fileno())
        reason = distrust(info)
        if reason:   # its start/stop/init commands would run as root
            raise ConfigError("%s: refused: %s, and it names the commands this agent runs" % (path, reason))
        cache = ParsedCache(path, info) if use_cache else None
        config = cache.get() if cache else None
        if config is None:
            config = _parse(io.TextIOWrapper(raw, encoding="utf-8"), path)
            if cache:
                cache.put(config)
    return config


def _parse(handle, path):
    from ..common import ini  # not on the cached path: configparser is most of its cost
    try:
        parser = ini.parse(handle, path)
    except ini.IniError as exc:
        raise ConfigError("%s: %s" % (path, str(exc).replace("cannot read:", "cannot read configuration:"))) from None
    return from_parser(parser, path)


class ParsedCache(cache.ParsedCache):
    """A valid mdlp_rhcs.conf, remembered (common/cache.py): get() a Config, or None."""

    def __init__(self, path, stat):
        super().__init__(path, stat, __file__, "rhcs")
        self.path = path

    def get(self):
        payload = self.load()
        if payload is None:
            return None
        agent, services = payload
        config = Config(self.path)
        for name, value in agent.items():
            setattr(config, name, value)
        for fields in services:
            svc = Service(fields["name"])
            for name, value in fields.items():
                setattr(svc, name, value)
            config.services.append(svc)
        return config

    def put(self, config):
        agent = {key: getattr(config, key) for key in AGENT_KEYS}
        services = [{key: getattr(svc, key) for key in Service.__slots__} for svc in config.services]
        self.save((agent, services))


def from_parser(parser, path):
    config = Config(path)
    for section in parser.sections():
        kind, _, name = section.partition(" ")
        name = name.strip()
        if section == "agent":
            _load_agent(config, parser[section], path)
        elif kind == "service" and name:
            if any(svc.name == name for svc in config.services):
                raise ConfigError("%s: service %s is defined twice" % (_where(path, section), name))
            config.services.append(_load_service(name, parser[section], path, section))
        else:
            raise ConfigError("%s: unknown section (expected [agent] or [service NAME])"
                              % _where(path, section))
    if not config.services:
        raise ConfigError("%s: no [service NAME] section: nothing to check" % path)
    return config


def _unknown(path, section, key, allowed):
    return ConfigError("%s: unknown key (allowed: %s)"
                       % (_where(path, section, key), ", ".join(allowed)))


def _load_agent(config, items, path):
    for key, value in items.items():
        if key not in AGENT_KEYS:
            raise _unknown(path, "agent", key, AGENT_KEYS)
        if key in ("deadline", "start_timeout", "stop_timeout"):
            value = _positive_number(path, "agent", key, value)
        elif key == "check_interval":
            value = _positive_number(path, "agent", key, value)
            if value > MAX_CHECK_INTERVAL:
                raise ConfigError("%s: %g is more than %d seconds" % (_where(path, "agent", key), value,
                                                                     MAX_CHECK_INTERVAL))
        elif key == "restart_grace":
            try:
                value = seconds(value, maximum=MAX_RESTART_GRACE)
            except ValueError as exc:
                raise ConfigError("%s: %s" % (_where(path, "agent", key), exc)) from None
        elif key == "watch":
            try:
                value = boolean(value)
            except ValueError as exc:
                raise ConfigError("%s: %s" % (_where(path, "agent", key), exc)) from None
        elif key == "stop_policy":
            if value not in STOP_POLICIES:
                raise ConfigError("%s: %r is not one of %s"
                                  % (_where(path, "agent", key), value, " | ".join(STOP_POLICIES)))
        elif not value.startswith("/"):
            raise ConfigError("%s: %r is not an absolute path" % (_where(path, "agent", key), value))
        setattr(config, key, value)


def _load_service(name, items, path, section):
    svc = Service(name)
    for key, value in items.items():
        if key not in SERVICE_KEYS:
            raise _unknown(path, section, key, SERVICE_KEYS)
        if not value:
            raise ConfigError("%s: empty value" % _where(path, section, key))
        if key == "timeout":
            value = _positive_number(path, section, key, value)
        elif key == "pidfile" and not value.startswith("/"):
            raise ConfigError("%s: %r is not an absolute path" % (_where(path, section, key), value))
        elif key == "process" and ("/" in value or " " in value):
            raise ConfigError("%s: %r is not a process name (no path, no arguments)"
                              % (_where(path, section, key), value))
        elif key == "user":
            try:
                svc.uid = pwd.getpwnam(value).pw_uid
            except KeyError:
                raise ConfigError("%s: no such user %r" % (_where(path, section, key), value)) from None
        elif key == "tcp":
            try:
                svc.tcp_addr = parse_hostport(value)
            except ValueError as exc:
                raise ConfigError("%s: %r: %s" % (_where(path, section, key), value, exc)) from None
        elif key == "http":
            try:
                svc.http_url = parse_url(value)
            except ValueError as exc:
                raise ConfigError("%s: %r: %s" % (_where(path, section, key), value, exc)) from None
        setattr(svc, key, value)
    if not svc.probes():
        raise ConfigError("%s: no probe: give at least one of %s"
                          % (_where(path, section), ", ".join(PROBE_KEYS)))
    return svc

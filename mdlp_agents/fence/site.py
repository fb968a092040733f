"""fence_mdlp.conf: the site's defaults for fence_mdlp's parameters ([fence], the same names,
secrets allowed) and the agent's own settings ([agent]).  Refused, one line, when others could
have written it: it names programs root runs (password_script, ipmitool_path, ssh_path)."""

import io
import os

from ..common.cache import ParsedCache
from ..common.files import distrust, open_regular
from ..common.paths import FENCE_CONF, STATE_DIR
from . import options as fo
from .options import FenceInputError

PATH = FENCE_CONF
ENV = "MDLP_FENCE_CONF"
AGENT_KEYS = {"syslog_socket": "/dev/log", "state_dir": STATE_DIR}


def load(path):
    """({parameter: value} of [fence], {key: value} of [agent], a warning or None) from PATH;
    ({}, {}, None) where there is no such file; FenceInputError where it cannot be used.
    An unchanged file comes from the parsed cache (common/cache.py): the fencer's monitor every
    minute does not pay for configparser."""
    if not os.path.exists(path):
        ParsedCache.forget(path, "fence")
        return {}, {}, None
    try:
        with open_regular(path) as raw:   # never blocks: a FIFO here is an error, not a hang
            info = os.fstat(raw.fileno())
            reason = distrust(info)
            if reason:
                raise FenceInputError("%s: refused: %s, and it names programs root runs" % (path, reason))
            remembered = ParsedCache(path, info, __file__, "fence")
            cached = remembered.load()
            if cached is not None:
                return tuple(cached)
            from ..common import ini  # not on the cached path
            try:   # the offending line is not echoed: it could be a mistyped "password secret"
                parser = ini.parse(io.TextIOWrapper(raw, encoding="utf-8"), path)
            except ini.IniError as exc:
                raise FenceInputError("%s: %s" % (path, exc)) from None
    except OSError as exc:
        raise FenceInputError("%s: %s" % (path, exc.strerror or exc)) from None
    site, agent = {}, {}
    for section in parser.sections():
        for key, value in parser[section].items():
            if section == "agent" and key in AGENT_KEYS:
                agent[key] = value
            elif section == "fence" and fo.canonical(key) in fo.BY_NAME:
                site[fo.canonical(key)] = value
            else:
                raise FenceInputError("%s: [%s] %s: unknown key" % (path, section, key))
    warning = None
    if info.st_mode & 0o077 and ("password" in site or "password_script" in site):
        warning = ("%s holds a password and is readable by group or others (mode %04o): chmod 600 it"
                   % (path, info.st_mode & 0o7777))
    remembered.save((site, agent, warning))
    return site, agent, warning

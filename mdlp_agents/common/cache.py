"""Configuration files remembered between runs, parsed: the cluster runs `mdlp_rhcs status` every
30 seconds and fence_mdlp's monitor every minute, and configparser is most of what either would
spend reading an unchanged file.

A cache entry is marshal data under /run/mdlp_agents/config-cache (tmpfs: gone at boot), written
with the file's own protection (0600, a 0700 directory).  It is used only while the file is
unchanged -- inode, size, mtime and ctime in ns, taken from the same open file the caller checked
-- and by the same installed code (the reading module's mtime and size).  Only this user's own,
not group/world-writable, entries are trusted: the files say what root runs, and fence_mdlp.conf
holds a password."""

import marshal
import os

from .files import atomic_write

DIRECTORY = "/run/mdlp_agents/config-cache"


class ParsedCache:
    """The parsed form of the file at PATH (whose os.stat_result is STAT), for the code in CODE."""

    DIRECTORY = DIRECTORY

    def __init__(self, path, stat, code, kind):
        mine = os.stat(code)   # an upgrade replaces the code, and with it every entry's key
        self.key = (kind, mine.st_mtime_ns, mine.st_size, os.path.abspath(path), stat.st_ino, stat.st_size,
                    stat.st_mtime_ns, stat.st_ctime_ns)
        name = os.path.abspath(path).replace("%", "%25").replace("/", "%2F")
        self.file = os.path.join(self.DIRECTORY, "%s:%s" % (kind, name))

    def load(self):
        """What save() kept for this very file, or None."""
        try:
            with open(self.file, "rb") as handle:
                info = os.fstat(handle.fileno())
                if info.st_uid != os.geteuid() or info.st_mode & 0o022:
                    return None
                key, payload = marshal.load(handle)
        except (OSError, EOFError, ValueError, TypeError):
            return None
        return payload if key == self.key else None

    def save(self, payload):
        """Remember PAYLOAD (marshal-able); a cache that cannot be written is no error."""
        try:
            os.makedirs(self.DIRECTORY, mode=0o700, exist_ok=True)
            atomic_write(self.file, marshal.dumps((self.key, payload)), mode=0o600)
        except (OSError, ValueError):
            pass

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
import time

from .. import __version__
from .files import atomic_write
from .paths import STATE_DIR

DIRECTORY = STATE_DIR + "/config-cache"


class ParsedCache:
    """The parsed form of the file at PATH (whose os.stat_result is STAT), for the code in CODE."""

    def __init__(self, path, stat, code, kind):
        mine = os.stat(code)   # an upgrade replaces the code (and the version), and every entry's key
        self.key = (kind, __version__, mine.st_mtime_ns, mine.st_size, os.path.abspath(path), stat.st_ino,
                    stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        self.file = self.file_for(path, kind)
        # how long a later change could still carry the same times: a clock tick where the file
        # system keeps nanoseconds, up to 2 s where it keeps whole seconds (ext3, some NFS)
        self.settled = stat.st_mtime + (2.0 if stat.st_mtime_ns % 1000000000 == 0 else 0.05)

    @classmethod
    def file_for(cls, path, kind):
        name = os.path.abspath(path).replace("%", "%25").replace("/", "%2F")
        return os.path.join(DIRECTORY, "%s:%s" % (kind, name))

    @classmethod
    def forget(cls, path, kind):
        """Drop what is remembered of PATH (which is gone): a password must not outlive its file."""
        try:
            os.unlink(cls.file_for(path, kind))
        except OSError:
            pass

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
        """Remember PAYLOAD (marshal-able); a cache that cannot be written is no error.  Not for a
        file changed so recently that another change of the same size could still carry the same
        times (git's "racy" entries)."""
        if time.time() < self.settled:
            return
        try:
            os.makedirs(DIRECTORY, mode=0o700, exist_ok=True)
            atomic_write(self.file, marshal.dumps((self.key, payload)), mode=0o600)
        except (OSError, ValueError):
            pass

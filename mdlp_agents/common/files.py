"""Files from outside and files we write.

- open_regular(): a path opened without blocking (a FIFO or a device where a file should be
  is an error at once, not a hang) and only if it is a regular file.
- distrust(): why a file that says what root runs may not be trusted (owner, mode), or None.
- atomic_write(): the whole new content or the old, never a mix: a temporary file of our own
  beside the target (O_EXCL: a planted name or link is never followed), removed whatever fails.
- state_dir(), open_lock(): a directory and lock files nobody else can write or hold.
- hold_record_lock(), record_lock_holder(): a POSIX record lock, and who holds one, asked without
  taking it (a look that takes a lock, even for a moment, makes a process starting then fail).
"""

import errno
import fcntl
import os
import stat
import struct

_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


class NotRegular(OSError):
    """The path names something other than a regular file (FIFO, device, directory, socket)."""


def _os_path(path):
    """PATH for the kernel: as the locale encodes names, else UTF-8 (Python 3.6 under LC_ALL=C,
    as rgmanager runs us, encodes names as ASCII and fails on any other character)."""
    if isinstance(path, str):
        try:
            return os.fsencode(path)
        except UnicodeEncodeError:
            return path.encode("utf-8", "surrogateescape")
    return path


def open_regular(path, follow=True):
    """An open binary file object for PATH; NotRegular if it is not a regular file."""
    fd = os.open(_os_path(path), _READ_FLAGS | (0 if follow else os.O_NOFOLLOW))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegular(errno.EINVAL, "not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path):
    """The bytes of the regular file PATH (OSError, NotRegular included, if it cannot be had)."""
    with open_regular(path) as handle:
        return handle.read()


def read_utf8(path, error):
    """The text of the regular file PATH; ERROR (an exception class) with one line naming PATH when
    it cannot be read or is not UTF-8."""
    try:
        return read_regular(path).decode("utf-8")
    except OSError as exc:
        raise error("%s: cannot read: %s" % (path, exc.strerror)) from None
    except UnicodeDecodeError:
        raise error("%s: not UTF-8 text" % path) from None


def distrust(info):
    """Why a file (os.stat_result) that tells root what to run must not be used, or None:
    it must belong to root (or to whoever runs us) and be writable by nobody else."""
    if info.st_uid not in (0, os.geteuid()):
        return "not owned by root (uid %d)" % info.st_uid
    if info.st_mode & 0o002:
        return "writable by others (mode %04o)" % (info.st_mode & 0o7777)
    if info.st_mode & 0o020:
        return "writable by its group (mode %04o)" % (info.st_mode & 0o7777)
    return None


def atomic_write(path, data, mode=0o644, keep_mode=False):
    """Replace PATH with DATA (bytes or str, UTF-8) in one step.  keep_mode: a regular file
    already at PATH keeps its permission bits.  OSError on failure, and nothing is left behind."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if keep_mode:
        try:
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                mode = stat.S_IMODE(info.st_mode)
        except OSError:
            pass
    directory, name = os.path.split(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = os.path.join(directory, ".%s.%d.%s.tmp" % (name, os.getpid(), os.urandom(4).hex()))
        try:
            fd = os.open(tmp, flags, 0o600)
            break
        except FileExistsError:
            continue
    else:
        raise OSError(errno.EEXIST, "no free temporary name beside %s" % path)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, mode)
            os.fsync(fd)   # on disk before the rename: a crash leaves the old file, not an empty one
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def find_program(name, search_path=None):
    """shutil.which(NAME, path=SEARCH_PATH) for a plain name: the first executable regular file
    NAME in SEARCH_PATH (default: $PATH).  The one PATH search of the package, because importing
    shutil costs the agents' hot paths (fence_mdlp's monitor, init probes) more than this loop."""
    for directory in (os.environ.get("PATH", os.defpath) if search_path is None else search_path).split(os.pathsep):
        candidate = os.path.join(directory or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _trusted_dir(path):
    """PATH exists as a real directory of ours that nobody else can write into."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022
            and os.access(path, os.W_OK | os.X_OK))


def state_dir(configured):
    """CONFIGURED if it is (or can be made) a directory of ours nobody else writes into.
    Others (not root: ocf-tester's `nobody`, an admin's own account) fall back to a
    per-user temp dir; root never does -- a predictable /tmp path is a symlink trap."""
    candidates = [configured]
    if os.geteuid() != 0:
        import tempfile
        candidates.append(os.path.join(tempfile.gettempdir(), "mdlp_agents-%d" % os.getuid()))
    for candidate in candidates:
        try:
            os.makedirs(candidate, mode=0o755, exist_ok=True)
        except OSError:
            continue
        if _trusted_dir(candidate):
            return candidate
    return None


def open_lock(directory, name):
    """A lock file only its owner can open (flock works on any open file: a lock that
    others can open is a lock others can hold, and fencing would wait on them)."""
    path = os.path.join(directory, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        raise OSError("lock file %s is not private to uid %d" % (path, os.geteuid()))
    return fd


# struct flock as Linux lays it out on 64-bit machines (short type, short whence, off_t start,
# off_t len, pid_t pid; padded to 32 bytes) -- Python's own fcntl has no F_GETLK wrapper.
_FLOCK = struct.Struct("hhqqi4x")


def hold_record_lock(fd):
    """Take a POSIX write lock on the whole of FD without waiting: True when taken, False when
    another process holds it.  It is released when this process closes any descriptor of the file
    or ends."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def record_lock_holder(fd):
    """The PID of the process holding a POSIX lock on FD's file that would block a write lock
    (F_GETLK: nothing is taken, so a process taking the lock at the same time never fails for
    our look), or 0 when nobody does."""
    ask = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
    kind, _whence, _start, _length, pid = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_GETLK, ask))
    return pid if kind != fcntl.F_UNLCK else 0

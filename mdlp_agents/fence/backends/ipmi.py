"""ipmi: IPMI 2.0 (lanplus) chassis power control of the victim's BMC, through ipmitool.

ipmitool, not pyghmi: it is what fence_ipmilan drives (same BMC quirks, the
same -C/-L meanings admins know), it is in every EL base repository, and it
needs no Python dependency.  Measured against ipmi_sim here: ipmitool 53 ms
and 14 MiB per call; pyghmi 118 ms and 34 MiB for the same status (83 ms of it
importing).  The password reaches ipmitool through `-f /dev/fd/N` on a pipe:
never in argv (fence_ipmilan uses -P, visible in ps), never in a file or the
environment.
"""

import os

from ...common.files import find_program
from . import FenceBackend, FenceError

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


_MARKER = "chassis power is"


def power_state(output):
    """The word after ipmitool's "Chassis Power is" (fence_ipmilan reads it with the regular
    expression [Cc]hassis [Pp]ower is\\s*([a-zA-Z]{2,3})), lower case: 'on', 'off', another word,
    or None -- None also when the output names more than one state ("... is off" and "... is on"
    in one answer: which one is the node's?  An answer in doubt is no answer).
    Without re: importing it costs the fencer's monitor more than this does."""
    lower = output.lower()
    words = set()
    at = lower.find(_MARKER)
    while at >= 0:
        rest = lower[at + len(_MARKER):].lstrip()
        word = ""
        for char in rest[:3]:
            if not "a" <= char <= "z":
                break
            word += char
        words.add(word if len(word) >= 2 else None)
        at = lower.find(_MARKER, at + len(_MARKER))
    return words.pop() if len(words) == 1 else None


def kg_key(text):
    """hexadecimal_kg (fence_ipmilan's -y form: up to 40 hex digits, 0x allowed) as the bytes
    ipmitool -K takes from IPMI_KGKEY; b"" for none.  Trailing zero bytes are the key's own
    padding; a zero byte inside cannot travel in the environment: refused."""
    if not text:
        return b""
    digits = str(text).strip()
    digits = digits[2:] if digits[:2].lower() == "0x" else digits
    if not 2 <= len(digits) <= 40 or len(digits) % 2 or not set(digits) <= HEX_DIGITS:
        raise ValueError("hexadecimal_kg: not a Kg key (an even number of hexadecimal digits, at most 40)")
    key = bytes.fromhex(digits).rstrip(b"\0")
    if b"\0" in key:
        raise ValueError("hexadecimal_kg: a key with a zero byte inside cannot be handed to ipmitool "
                         "without its command line")
    return key


class IpmiBackend(FenceBackend):
    name = "ipmi"
    POWER_WAIT = 2        # fence_ipmilan's default
    reads_state = True

    def validate(self):
        problems = []
        if self.needs_address() and not self.options.get("ip"):
            problems.append("no BMC address: set ip= (or a host_map entry for the node)")
        if not self._tool():
            where = self.options.get("ipmitool_path") or "on PATH (%s)" % os.environ.get("PATH", "")
            problems.append("ipmitool not found or not executable %s (install ipmitool)"
                            % (("at " + where) if self.options.get("ipmitool_path") else where))
        try:
            kg_key(self.options.get("hexadecimal_kg"))
        except ValueError as exc:
            problems.append(str(exc))
        return problems

    def _tool(self):
        """ipmitool_path if executable, else ipmitool on PATH; None if neither."""
        path = self.options.get("ipmitool_path")
        if path:
            return path if os.access(path, os.X_OK) and os.path.isfile(path) else None
        return find_program("ipmitool")

    def _call_timeout(self):
        return float(self.options.get("login_timeout", 5)) + float(self.options.get("shell_timeout", 3))

    def _ipmitool(self, *command):
        opts = self.options
        argv = [self._tool(),
                "-I", "lanplus" if opts.get("lanplus", True) else "lan",
                "-H", opts["ip"], "-p", str(opts.get("ipport") or 623), "-N", "1", "-R", "2"]
        if opts.get("username"):
            argv += ["-U", opts["username"]]
        if opts.get("cipher"):
            argv += ["-C", str(opts["cipher"])]
        argv += ["-L", str(opts.get("privlvl", "administrator")).upper()]
        env = None
        key = kg_key(opts.get("hexadecimal_kg"))
        if key:   # ipmitool -K reads the Kg key from its environment: never in argv (ps shows argv)
            env = dict(os.environb)
            env[b"IPMI_KGKEY"] = key
            argv.append("-K")
        read_end, write_end = os.pipe()
        try:
            os.write(write_end, (opts.get("password") or "").encode() + b"\n")
            os.close(write_end)
            argv += ["-f", "/dev/fd/%d" % read_end] + list(command)
            self.log.debug("ipmi: %s" % " ".join(argv))
            code, out, err = self.runner.run(argv, self._call_timeout(), pass_fds=(read_end,), env=env)
        finally:
            os.close(read_end)
        return code, out, err

    def status(self):
        code, out, err = self._ipmitool("chassis", "power", "status")
        state = power_state(out) or ""
        # any doubt is a failure: an exit code other than 0 voids whatever the output says
        if code != 0 or state not in ("on", "off"):
            reason = (err.strip().splitlines() or out.strip().splitlines() or ["no answer"])[-1]
            raise FenceError("BMC %s: cannot read power status (ipmitool exit %s): %s"
                             % (self.options["ip"], code, reason))
        return state

    def device(self):
        return "BMC %s" % self.options["ip"]

    def set_power(self, target):
        code, out, err = self._ipmitool("chassis", "power", target)
        if code == 0:
            return
        try:
            already = self.status() == target   # some BMCs refuse "off" for a chassis already off
        except FenceError:
            already = False
        if already:
            self.log.info("BMC %s refused power %s, but reports it already %s" % (self.options["ip"], target, target))
            return
        reason = (err.strip().splitlines() or out.strip().splitlines() or ["no answer"])[-1]
        raise FenceError("BMC %s: power %s refused (ipmitool exit %d): %s" % (self.options["ip"], target, code, reason))

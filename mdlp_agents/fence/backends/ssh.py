"""ssh: fencing for nodes without a BMC -- kill the services and drop the floating IP
on the victim over OpenSSH, then verify over the same connection.

Only a verified result counts: the victim unreachable, a refused login or key, a
host key that does not match, or anything still running is a failure, never a
success (list this backend before `noop` in a chain if the guide's "carry on
anyway" is wanted).  Host keys are checked as the client's configuration says
(BatchMode: an unknown host fails) unless ssh_options says otherwise.

`on` cannot power anything on over SSH: it confirms the node answers, and the
cluster starts the services there (rgmanager/Pacemaker run mdlp_rhcs start).
"""

import ipaddress
import math
import os
import shlex

from . import FenceBackend, FenceError

# Runs on the victim with /bin/sh.  Zombies do not count as running: a killed
# process is gone even before its parent reaps it.
_CHECK = r'''
fail() { echo "MDLP-FENCE error: $*"; exit 3; }
[ -n "$PROCS$VIP" ] || fail "nothing to look for: no kill_processes and no vip"
for tool in ps ip awk; do command -v "$tool" >/dev/null 2>&1 || fail "no $tool on the node: cannot verify"; done
report() {
  # what cannot be looked at is not "gone": no answer from ps or ip is an error
  procs=$(ps -e -o stat= -o comm=) && [ -n "$procs" ] || fail "ps gave no process list: cannot verify"
  addrs=$(ip -o addr show) && [ -n "$addrs" ] || fail "ip gave no address list: cannot verify"
  left=""
  for p in $PROCS; do
    echo "$procs" | awk -v p="$p" '$1 !~ /^Z/ && $2 == p {f=1} END {exit !f}' && left="$left $p"
  done
  held=""
  [ -z "$VIP" ] || held=$(echo "$addrs" | awk -v v="$VIP" '{split($4, a, "/"); if (a[1] == v) print $2}' | tr '\n' ' ')
  if [ -z "$left" ] && [ -z "$held" ]; then echo "MDLP-FENCE off"; return 0; fi
  echo "MDLP-FENCE on running:${left:- none} address-on:${held:-none}"; return 3
}
'''
_KILL = r'''
for p in $PROCS; do pkill -KILL -x -- "$p" 2>/dev/null || killall -q -s KILL -- "$p" 2>/dev/null; done
# the node must not come back as the active one when its services restart
rm -f /run/mdlp_agents/active
if [ -n "$VIP" ]; then
  ip -o addr show 2>/dev/null | while read -r idx dev family addr rest; do
    case "$addr" in "$VIP"/*) ip addr del "$addr" dev "${dev%@*}" ;; esac
  done
fi
i=0
while ! report >/dev/null; do
  i=$((i + 1)); [ $i -ge @POLLS@ ] && break
  sleep 0.2
done
report
'''


class SshBackend(FenceBackend):
    name = "ssh"

    def validate(self):
        problems = []
        path = self.options.get("ssh_path") or "/usr/bin/ssh"
        if not os.access(path, os.X_OK):
            problems.append("ssh client not found or not executable at %s (install openssh-clients)" % path)
        if self.needs_address() and not (self.options.get("ip") or self.options.get("victim")):
            problems.append("no address: set ip= (or host_map), or give the node's name (resolved by ssh)")
        identity = self.options.get("identity_file")
        if identity and not os.access(identity, os.R_OK):
            problems.append("identity_file %s is not readable" % identity)
        for name in self._process_names():
            if len(name) > 15 or not all(c.isalnum() or c in "-_.+@" for c in name):
                problems.append("kill_processes: %r cannot be matched by its process name (at most 15 "
                                "characters, no spaces or shell characters)" % name)
        try:
            vip = self._vip()
        except ValueError as exc:
            problems.append("vip: %s" % exc)
        else:
            if not vip and not self._process_names():
                # nothing to kill, no address to drop: "off" would be a lie about a live node
                problems.append("nothing to fence: kill_processes is empty and no vip is set")
        return problems

    def _process_names(self):
        return [p.strip() for p in str(self.options.get("kill_processes") or "").split(",") if p.strip()]

    def _vip(self):
        """The floating IP, canonical and without a prefix length (ip addr shows it so)."""
        text = str(self.options.get("vip") or "").strip()
        if not text:
            return ""
        return str(ipaddress.ip_interface(text).ip)

    def _host(self):
        return self.options.get("ip") or self.options.get("victim")

    def _argv(self):
        opts = self.options
        connect = max(1, int(math.ceil(float(opts.get("login_timeout", 5)))))
        argv = [opts.get("ssh_path") or "/usr/bin/ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % connect,
                "-o", "ServerAliveInterval=2", "-o", "ServerAliveCountMax=2",
                "-p", str(opts.get("ipport") or 22), "-l", opts.get("username") or "root"]
        if opts.get("identity_file"):
            argv += ["-i", opts["identity_file"]]
        if opts.get("ssh_options"):
            argv += shlex.split(opts["ssh_options"])
        return argv + ["--", self._host(), "/bin/sh -s"]

    def _script(self, body):
        # names are checked by validate(): plain words, safe to split on spaces in the script
        header = "PROCS=%s\nVIP=%s\n" % (shlex.quote(" ".join(self._process_names())), shlex.quote(self._vip()))
        return (header + _CHECK + body).encode()

    def _run(self, body, budget):
        timeout = (float(self.options.get("login_timeout", 5)) + float(self.options.get("shell_timeout", 3))
                   + budget)
        self.log.debug("ssh: %s" % " ".join(self._argv()))
        code, out, err = self.runner.run(self._argv(), timeout, stdin_data=self._script(body))
        verdict = [line for line in out.splitlines() if line.startswith("MDLP-FENCE ")]
        if verdict and verdict[-1].startswith("MDLP-FENCE error"):
            raise FenceError("%s: %s" % (self._host(), verdict[-1][len("MDLP-FENCE error: "):]))
        if code == 255 or not verdict:
            reason = (err.strip().splitlines() or ["ssh exited %d without an answer" % code])[-1]
            raise FenceError("ssh to %s:%s failed: %s" % (self._host(), self.options.get("ipport") or 22, reason))
        answer = verdict[-1][len("MDLP-FENCE "):]
        if answer == "off" and code != 0:   # "off" counts only from a script that ended well
            raise FenceError("%s: the check said off but exited %d: cannot verify" % (self._host(), code))
        return answer

    def status(self):
        answer = self._run("report\n", 0)
        return "off" if answer == "off" else "on"

    def power_off(self):
        timeout = float(self.options.get("power_timeout", 20))
        polls = max(1, int(timeout / 0.2))
        answer = self._run(_KILL.replace("@POLLS@", str(polls)), timeout)
        if answer != "off":
            raise FenceError("%s: after killing and removing the address, still %s" % (self._host(), answer))

    def power_on(self):
        self._run("echo 'MDLP-FENCE reachable'\n", 0)
        self.log.info("ssh: %s answers; nothing to switch on (the cluster starts its services)" % self._host())

    def monitor(self):
        self._run("echo 'MDLP-FENCE reachable'\n", 0)

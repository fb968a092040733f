"""noop: the guide's `ln -s /bin/true /sbin/fence_mdlp`, but never silent."""

from . import FenceBackend

WARNING = "backend noop: NOTHING WAS FENCED (%s of %s reported as done, as the guide's /bin/true would)"


class NoopBackend(FenceBackend):
    name = "noop"

    def _say(self, action):
        self.log.shout(WARNING % (action, self.options.get("victim") or "?"), backend="noop", action=action)

    def status(self):
        self._say("status")
        return "on"

    def power_off(self):
        self._say("off")

    def power_on(self):
        self._say("on")

    def monitor(self):
        self._say("monitor")

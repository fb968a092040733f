"""The drill's record: the plan, every event (on the drill's clock: seconds since it started, and
the wall time), each step's timings against their budgets, its verdict and whether the pair was
restored.  With --json FILE it is written after every event (a whole new file each time: a drill
cut short leaves the record of everything until then)."""

import json
import time

from ...common.files import atomic_write

VERSION = 1


class Record:
    def __init__(self, path, cluster, me, peer, clock):
        self.path, self.clock = path, clock
        self.data = {"drill": VERSION, "cluster": cluster, "run_from": me, "partner": peer,
                     "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "plan": [], "events": [], "steps": [],
                     "verdict": None, "exit": None}
        self.problem = None             # why the file could not be written (once said)

    def event(self, step, what, **detail):
        entry = {"t": round(self.clock(), 3), "at": time.strftime("%H:%M:%S"), "step": step, "event": what}
        entry.update(detail)
        self.data["events"].append(entry)
        self.save()
        return entry

    def step(self, result):
        self.data["steps"].append(result)
        self.save()

    def finish(self, verdict, code):
        self.data.update(verdict=verdict, exit=code, ended=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        self.save()

    def save(self):
        if not self.path:
            return
        try:
            atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n", mode=0o644)
        except OSError as exc:
            self.problem = "cannot write %s: %s" % (self.path, exc.strerror or exc)

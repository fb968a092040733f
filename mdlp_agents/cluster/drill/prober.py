"""The floating IP, fetched over HTTP 6 times a second by a thread of the drill's, each GET
stamped by the drill's clock when it started (a dead address slows no sample down: each GET has
its own thread and a 0.5 s timeout).  Where it fails, the users are cut off."""

import http.client
import threading

RATE = 6.0
TIMEOUT = 0.5


def fetch(address, timeout=TIMEOUT, port=80):
    """Does http://ADDRESS/ answer (any status below 500)?"""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"User-Agent": "mdlp-cluster-drill", "Connection": "close"})
        response = conn.getresponse()
        response.read(65536)
        return response.status < 500
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


class Prober:
    def __init__(self, address, clock, port=80):
        self.address, self.clock, self.port = address, clock, port
        self.samples = []               # (drill seconds, answered)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="drill-prober", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)

    def _one(self, started):
        answered = fetch(self.address, TIMEOUT, self.port)
        with self._lock:
            self.samples.append((started, answered))

    def _loop(self):
        while not self._stop.is_set():
            started = self.clock()
            threading.Thread(target=self._one, args=(started,), daemon=True).start()
            self._stop.wait(max(0.0, 1.0 / RATE - (self.clock() - started)))

    def since(self, start):
        with self._lock:
            return sorted(s for s in self.samples if s[0] >= start)

    def outage(self, start, end=None):
        """(seconds users were cut off between START and END -- the longest run without an answered
        GET, a gap still open at END counted to END --, the first answer after the last failure or
        None, how many samples).  None as the outage when nothing was sampled."""
        samples = [s for s in self.since(start) if end is None or s[0] <= end]
        if not samples:
            return None, None, 0
        longest, failed_since, back = 0.0, None, None
        for stamp, answered in samples:
            if answered:
                if failed_since is not None:
                    longest = max(longest, stamp - failed_since)
                    back = stamp
                    failed_since = None
            elif failed_since is None:
                failed_since = stamp
        if failed_since is not None:
            longest = max(longest, (end if end is not None else samples[-1][0]) - failed_since)
            back = None
        return longest, back, len(samples)

    def answering(self, start):
        """The drill time of the first answered GET since START after which every GET answered, or None."""
        samples = self.since(start)
        last_good = None
        for stamp, answered in samples:
            if answered and last_good is None:
                last_good = stamp
            elif not answered:
                last_good = None
        return last_good

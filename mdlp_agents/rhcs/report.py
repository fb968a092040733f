"""How a status reads: a table for a terminal, one line for a log or a pipe,
JSON for scripts."""

import time

from ..common import text as outside


def _uptime(started, now):
    if not started:
        return ""
    seconds = max(0, int(now - started))
    days, seconds = divmod(seconds, 86400)
    text = "%d:%02d:%02d" % (seconds // 3600, seconds % 3600 // 60, seconds % 60)
    return "%d day%s, %s" % (days, "s" if days > 1 else "", text) if days else text


def _role_text(active_since):
    if active_since is None:
        return "role: passive (this node has not started the cluster resource)"
    return "role: active since %s" % time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(active_since))


def table(statuses, summary, active_since, verbose=False, now=None, maintenance=None):
    now = time.time() if now is None else now
    width = max([len(s.name) for s in statuses] + [12]) + 2
    lines = []
    for status in statuses:
        if status.ok:
            info = "pid %s, uptime %s" % (status.pid, _uptime(status.started, now)) if status.pid else "probes pass"
        else:
            failure = status.failure
            info = "%s: %s" % (failure.probe, failure.detail)
        lines.append(outside.one_line("%-*s%-10s%s" % (width, status.name, status.state, info)))
        if verbose:
            for result in status.results:
                lines.append(outside.one_line("%*s%-8s %-5s %s" % (
                    width + 2, "", result.probe, "ok" if result.ok else "FAIL", result.detail)))
    lines.append("%s; %s" % (summary, _role_text(active_since)))
    if maintenance:
        lines.append(outside.one_line(maintenance))
    return "\n".join(lines)


def down(status):
    """A service that is down, in a few words: NAME STATE (probe: detail) -- one line, printable (a
    process name in it is anybody's to choose)."""
    failure = status.failure
    return outside.one_line("%s %s (%s: %s)" % (status.name, status.state, failure.probe, failure.detail))


def one_line(statuses, summary, active_since, maintenance=None):
    down_ = [down(s) for s in statuses if not s.ok]
    role = "active" if active_since is not None else "passive"
    if down_:
        text = "%s: %s; role %s" % (summary, "; ".join(down_), role)
    else:
        text = "%s (%s); role %s" % (summary, ", ".join(s.name for s in statuses), role)
    return outside.one_line("%s | %s" % (text, maintenance) if maintenance else text)


def as_json(statuses, summary, active_since, exit_code, elapsed, now=None, maintenance=None):
    import json
    now = time.time() if now is None else now
    services = []
    for status in statuses:
        failure = status.failure
        services.append({
            "name": status.name,
            "state": status.state,
            "pid": status.pid,
            "started": status.started,
            "uptime_seconds": int(now - status.started) if status.started else None,
            "problem": None if failure is None else
            {"probe": failure.probe, "cause": failure.cause, "detail": failure.detail},
            "probes": [{"probe": r.probe, "ok": r.ok, "cause": r.cause, "detail": r.detail}
                       for r in status.results],
        })
    return json.dumps({
        "summary": summary,
        "running": all(s.ok for s in statuses),
        "exit_code": exit_code,
        "role": "active" if active_since is not None else "passive",
        "active_since": active_since,
        "elapsed_seconds": round(elapsed, 3),
        "services": services,
        "maintenance": maintenance,
    }, indent=2)

"""The drill's exit codes and its table.

    0  every step passed, the pair healthy
    1  a step failed (its reason said), the pair restored and healthy
    2  bad input (an unknown step, not root, no terminal to confirm on): nothing done
    3  refused by the guard (or the cluster's name not confirmed): nothing done
    4  the pair was left unhealthy (the guard failed after a step, or its undo failed): look now"""

PASSED, STEP_FAILED, BAD_INPUT, REFUSED, UNHEALTHY = 0, 1, 2, 3, 4
VERDICTS = {PASSED: "all steps passed; the pair is healthy", STEP_FAILED: "a step FAILED; the pair was restored",
            REFUSED: "refused: nothing done", UNHEALTHY: "the pair was LEFT UNHEALTHY"}


def _seconds(timing):
    if timing.get("seconds") is None:
        return "-"
    budget = timing.get("budget")
    return "%.1f s%s" % (timing["seconds"], " (<= %.0f)" % budget if budget else "")


def step_line(result):
    timings = ", ".join("%s %s" % (name, _seconds(t)) for name, t in result["timings"].items())
    line = "%-4s %-18s %s" % (result["verdict"], result["step"], timings or "")
    if result.get("why"):
        line += " -- " + result["why"]
    return line.rstrip()


def table(results, code):
    lines = [step_line(r) for r in results]
    lines.append(VERDICTS.get(code, "exit %d" % code))
    return lines

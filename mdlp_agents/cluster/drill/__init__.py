"""mdlp-cluster drill: the admin proves failover on the live pair -- plan (changes nothing), check
(non-destructive, safe from cron), run (the destructive steps, one at a time, each judged on its
expected outcome and timed against a budget computed from the configuration, the pair restored
and guarded after each).

    steps.py     the steps, least disruptive first, and what each expects
    budget.py    each step's time budget, from the cluster's own settings
    pair.py      the two nodes: this one and its partner over ssh (boot id, clock, signals, rules)
    lock.py      one drill at a time: a lock on both nodes
    guard.py     is the pair fit for a drill (before the run, after every step)?
    prober.py    the floating IP fetched 6 times a second, stamped by the drill's clock
    record.py    the record: plan, events, timings, verdicts, written after every event
    execute.py   the steps done, waited for, judged and undone
    report.py    the terminal's table and the exit codes

Model: Pacemaker's CTS (a scenario injects a failure, waits for what must follow with a bound,
and audits the cluster afterwards) and crmsh's crash_test -- with what they leave out: timings,
the floating IP, a split that must fence exactly one node, a guard that refuses a pair unfit
for a drill."""

"""Compares configurations of the guard's contest over seeds (issue 12): each argument is
NAME=DIR1,DIR2,... (guard_rules.sh folders of one configuration, one per seed: `SEED=N
guard_rules.sh DIR`); the first is the reference. One seed alone moves a group's mean by up to a
third (AirPassengers 0.771–1.090 over seeds 1–5), so a change is judged on seed averages.
Per group: the mean over series of each series' held-out MASE averaged over the seeds, for the
network alone and the guard's rule, the spread of the group mean across seeds, and per
configuration how many series got better / worse than the reference (by more than 1%,
on the seed-averaged values), in all groups, the check groups and those no rule was chosen on,
and the geometric mean of the per-series ratios to the reference there. Analysis only.

    python3 compare_seeds.py base=/tmp/a-s1,/tmp/a-s2 new=/tmp/b-s1,/tmp/b-s2
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guard_rules import scores_of  # noqa: E402

GROUPS = ["monthly_seven", "aus_arrivals", "airpassengers", "monthly_checks", "quarterly_checks",
          "weekly_checks", "r_monthly", "r_quarterly", "r_seatbelts", "fresh_monthly", "fresh_quarterly",
          "m4_monthly", "m4_quarterly", "m4_weekly", "rd_monthly", "rd_quarterly"]



def per_series(path):
    """Per series, the held-out MASE of the network alone and of the guard's rule, averaged over origins."""
    _, scores = scores_of(path)
    return tuple({k: float(np.mean(v)) for k, v in scores.get(rule, {}).items()} for rule in ("network alone", "the guard's rule"))


CHECKS = {"monthly_checks", "quarterly_checks", "weekly_checks", "r_monthly", "r_quarterly", "r_seatbelts",
          "fresh_monthly", "fresh_quarterly", "m4_monthly", "m4_quarterly", "m4_weekly", "rd_monthly", "rd_quarterly"}
# The panels no rule was chosen on (guard_rules.sh records them when their files exist).
NEVER_TUNED = {"fresh_monthly", "fresh_quarterly", "m4_monthly", "m4_quarterly", "m4_weekly", "rd_monthly", "rd_quarterly"}
# The scopes the totals are given for, and the groups each holds.
SCOPES = {"all groups": set(GROUPS), "the check groups": CHECKS, "those no rule was chosen on": NEVER_TUNED}


def main(args):
    configs = [(a.split("=", 1)[0], a.split("=", 1)[1].split(",")) for a in args]
    print("group | rule | " + " | ".join(f"{n} (seeds: min–max)" for n, _ in configs) + " | better/worse vs " + configs[0][0])
    # Per configuration, rule and scope: series better, worse, and the logs of their ratios.
    totals = {n: {rule: {scope: [0, 0, []] for scope in SCOPES} for rule in ("network alone", "guard's rule")}
              for n, _ in configs[1:]}
    per = {}
    for g in GROUPS:
        runs = {n: [per_series(os.path.join(d, g + ".jsonl")) for d in dirs if os.path.exists(os.path.join(d, g + ".jsonl"))]
                for n, dirs in configs}
        if not all(runs.values()):
            continue
        for which, rule in ((0, "network alone"), (1, "guard's rule")):
            keys = sorted(set.intersection(*[set(r[which]) for rs in runs.values() for r in rs]))
            if not keys:
                continue
            avg = {n: {k: np.mean([r[which][k] for r in rs]) for k in keys} for n, rs in runs.items()}
            cells = []
            for n, rs in runs.items():
                seeds = [np.mean([r[which][k] for k in keys]) for r in rs]
                cells.append(f"{np.mean(list(avg[n].values())):.3f} ({min(seeds):.3f}–{max(seeds):.3f}, {len(rs)})")
            ref = avg[configs[0][0]]
            counts = []
            for n, _ in configs[1:]:
                b = sum(avg[n][k] < ref[k] * 0.99 for k in keys)
                w = sum(avg[n][k] > ref[k] * 1.01 for k in keys)
                counts.append(f"{n} {b}/{w}")
                logs = [math.log(avg[n][k] / ref[k]) for k in keys if ref[k] > 0 and avg[n][k] > 0]
                for scope, groups in SCOPES.items():
                    if g in groups:
                        t = totals[n][rule][scope]
                        t[0] += b; t[1] += w; t[2] += logs
                for k in keys:
                    per.setdefault((n, rule), []).append(f"{g}/{k} {ref[k]:.3f}→{avg[n][k]:.3f}")
            print(f"{g} | {rule} ({len(keys)} series) | " + " | ".join(cells) + " | " + ", ".join(counts))
    for n, rules in totals.items():
        for rule, scopes in rules.items():
            counts = ", ".join(f"{b}/{w} in {scope}" for scope, (b, w, _) in scopes.items())
            means = " / ".join(f"{math.exp(np.mean(logs)):.3f}" if logs else "n/a" for _, _, logs in scopes.values())
            print(f"{n}, {rule}: series better/worse {counts}; geometric mean of the per-series ratios {means}")
    if os.environ.get("PER_SERIES"):
        for (n, rule), lines in per.items():
            print(f"-- {n}, {rule}: " + "; ".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Combinations of the guard's contenders in place of its choice, over seeds (benchmarks/RESULTS.md,
issue 12, session 34): from the records of `SEED=S guard_rules.sh PREFIX-sS` (S in SEEDS), per
short set the held-out MASE (mean over series, then over seeds) of the guard's rule, of the
single contenders (network, ETS, Theta, ARIMA, the stronger baseline) weighted by the inverse of
their backtest MASE (all, squared, the best three, the best two), of their median (all, the best
three), and of the guard's choice mixed 30% or 50% with the best three's weighted mean; last, the
geometric mean of each rule's ratio to the guard's over the sets. Needs numpy. Analysis, not part
of the product or of CI.

    python3 combination_rules.py PREFIX 1,2,3,4,5
"""

import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guard_rules as G  # noqa: E402

SETS = ["monthly_seven", "aus_arrivals", "airpassengers", "monthly_checks", "quarterly_checks", "weekly_checks",
        "m4_monthly", "m4_quarterly", "m4_weekly", "rd_monthly", "rd_quarterly"]


def inverse_mase_weights(power=1, best=None):
    def rule(cs):
        members = sorted(G.singles(cs), key=lambda c: c["mase"])[:best]
        w = np.array([1 / max(c["mase"], 1e-9) ** power for c in members])
        return np.sum([wi / w.sum() * np.array(c["point"]) for wi, c in zip(w, members)], axis=0)
    return rule


def median_of(best=None):
    return lambda cs: np.median([np.array(c["point"]) for c in sorted(G.singles(cs), key=lambda c: c["mase"])[:best]], axis=0)


def guard_mixed(share, other):
    return lambda cs: (1 - share) * np.array(G.guard(cs)) + share * np.array(other(cs))


RULES = {
    "the guard's rule": G.guard,
    "inverse-MASE weights, all": inverse_mase_weights(),
    "inverse-MASE² weights, all": inverse_mase_weights(2),
    "inverse-MASE weights, best 3": inverse_mase_weights(1, 3),
    "inverse-MASE weights, best 2": inverse_mase_weights(1, 2),
    "median, all": median_of(),
    "median, best 3": median_of(3),
    "guard 70% + best 3 weighted 30%": guard_mixed(0.3, inverse_mase_weights(1, 3)),
    "guard 50% + best 3 weighted 50%": guard_mixed(0.5, inverse_mase_weights(1, 3)),
}


def main(prefix, seeds):
    table = {}
    for name in SETS:
        for seed in seeds:
            path = f"{prefix}-s{seed}/{name}.jsonl"
            if not os.path.exists(path):
                continue
            lines = [json.loads(l) for l in open(path)]
            scores = {}
            for l in lines:
                cs = G.Contest({c["code"]: c for c in l["contenders"] if c["mase"] >= 0 and c["point"]}, l.get("naive_presumed"))
                if not cs:
                    continue
                for rule, forecast in RULES.items():
                    scores.setdefault(rule, {}).setdefault(l["series"], []).append(
                        G.mase(l["heldout"]["actual"], forecast(cs), l["heldout"]["scale"]))
            for rule, per_series in scores.items():
                table.setdefault(rule, {}).setdefault(name, []).append(np.mean([np.mean(v) for v in per_series.values()]))
    sets = [s for s in SETS if s in table["the guard's rule"]]
    print("rule".ljust(34) + "".join(s[:11].rjust(12) for s in sets) + "   vs the guard")
    for rule in RULES:
        values = [np.mean(table[rule][s]) for s in sets]
        reference = [np.mean(table["the guard's rule"][s]) for s in sets]
        ratio = math.exp(np.mean([math.log(a / b) for a, b in zip(values, reference)]))
        print(rule.ljust(34) + "".join(f"{v:12.3f}" for v in values) + f"   {ratio:.3f}")


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2].split(",")])

"""Compares rules of the guard's choice on held-out windows, from the contenders that
`forecastd bench accuracy --contenders FILE` records (one JSON line per series and origin:
every contender's backtest windows, and its forecast of the horizon after the origin).

    python3 guard_rules.py monthly_seven.jsonl aus.jsonl ...

Prints, per file, the mean over series of the held-out MASE (the median forecast, scaled by the
in-sample seasonal-naive error at the origin) of each rule: the guard's own (`Selection`: the
lowest backtest MASE unless a contender cheaper to serve ties with it, ARIMA not contending;
then averaged with ETS where ETS ties with that choice and with ARIMA where ARIMA beat it), the choice before they join
it, every contender alone,
the lowest backtest MASE, and the mean of the single models (network, ETS, Theta, the stronger
baseline) that tie with the best of them (DM t below 1.645, MASE within a tolerance of the
best's), which was measured and not adopted (benchmarks/RESULTS.md, issue 12). Needs only
numpy. Analysis for choosing defaults, not part of the product."""

import json
import math
import sys

import numpy as np

SINGLES = ("network", "ets", "theta", "arima")
THRESHOLD = 1.645


def mase(actual, point, scale):
    a, p = np.array(actual), np.array(point[:len(actual)])
    seen = a > -1e299
    return float(np.mean(np.abs(a[seen] - p[seen])) / scale)


def window_losses(contender):
    return [mase(w["actual"], w["point"], w["scale"]) for w in contender["windows"]]


def dm(losses, best):
    d = np.array(losses) - np.array(best)
    mean = d.mean()
    if len(d) == 1:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    sd = d.std(ddof=1)
    return mean / (sd / math.sqrt(len(d))) if sd > 0 else (0.0 if mean == 0 else math.copysign(math.inf, mean))


def stronger_baseline(cs):
    """The baseline the guard lets contend: the one the network's combination with the baseline
    was made with (read off its forecast), else the one of lower backtest MASE."""
    if "+baseline" in cs and "network" in cs:
        partner = 2 * np.array(cs["+baseline"]["point"]) - np.array(cs["network"]["point"])
        gaps = {k: np.abs(partner - np.array(cs[k]["point"])).max() for k in ("sn", "naive") if k in cs}
        return min(gaps, key=gaps.get)
    return min((k for k in ("sn", "naive") if k in cs), key=lambda k: cs[k]["mase"])


def singles(cs):
    """The single models of a record (network, ETS, Theta, ARIMA) and the stronger baseline."""
    return [cs[k] for k in SINGLES if k in cs] + [cs[stronger_baseline(cs)]]


def tied_mean(tolerance):
    def rule(cs):
        pool = singles(cs)
        best = min(pool, key=lambda c: c["mase"])
        ref = window_losses(best)
        members = [c for c in pool if c is best or (c["mase"] <= best["mase"] * (1 + tolerance)
                                                    and not dm(window_losses(c), ref) >= THRESHOLD)]
        return np.mean([np.array(c["point"]) for c in members], axis=0)
    return rule


COST = {"network": 0, "sn": 1, "naive": 1, "ets": 2, "theta": 2, "arima": 2, "ces": 2, "+baseline": 3, "+ets": 3, "+theta": 3,
        "+arima": 3, "+ces": 3}
TOLERANCE = 0.02
# The models that only join the choice (`ModelGuard.joinsOnly`), and all that join (`ModelGuard.joiners`).
JOINS_ONLY = ("arima", "+arima", "ces", "+ces")
# Each joins below this DM statistic, and (where not None) within this share above the choice's MASE.
JOINERS = {"ets": (THRESHOLD, None), "arima": (0.0, None), "ces": (THRESHOLD, 0.2)}


class Contest(dict):
    """The contenders of one record by code, and whether the guard presumed naive there (the
    unit changes like a random walk: the record's `naive_presumed` holds the share of its change
    a linear forecast explains)."""
    def __init__(self, contenders, naive_presumed=None):
        super().__init__(contenders)
        self.naive_presumed = naive_presumed is not None


def choice(cs):
    """`Selection` as ModelGuard runs it: one baseline (the stronger), the network combined with
    the better statistical model only; among the contenders that tie with the lowest backtest
    MASE, the cheapest to serve, except that the network gives way to its combination with the
    baseline when that ties with a lower MASE; where naive is presumed, the baseline wherever it
    ties with the best by the test alone. Returns the chosen contender."""
    stats = [c for c in ("ets", "theta") if c in cs]
    better = min(stats, key=lambda k: cs[k]["mase"]) if stats else None
    baseline = stronger_baseline(cs)
    pool = [c for k, c in cs.items() if not (k in ("+ets", "+theta") and k[1:] != better) and not (k in ("sn", "naive") and k != baseline)
            and k not in JOINS_ONLY]
    best = min(pool, key=lambda c: (c["mase"], COST[c["code"]]))
    ref = window_losses(best)
    if getattr(cs, "naive_presumed", False) and (cs[baseline] is best or dm(window_losses(cs[baseline]), ref) < THRESHOLD):
        return cs[baseline]
    tied = [c for c in pool if c is best or (c["mase"] <= best["mase"] * (1 + TOLERANCE)
                                             and not dm(window_losses(c), ref) >= THRESHOLD)]
    cheapest = min(tied, key=lambda c: (COST[c["code"]], c["mase"]))
    combined = [c for c in tied if c["code"] == "+baseline" and c["mase"] < cheapest["mase"]]
    return combined[0] if cheapest["code"] == "network" and combined else cheapest


def guard(cs):
    """The guard's publication (`ModelGuard.joiningStatistical`): the choice, averaged with ETS
    where ETS is not significantly worse than it on the backtest windows (DM t below 1.645),
    with ARIMA where ARIMA beat it there (DM t below 0) and with CES where it is not
    significantly worse and its MASE within 20% of the choice's, all with equal weight."""
    chosen = choice(cs)
    joining = [cs[k] for k, (below, within) in JOINERS.items() if k in cs and cs[k] is not chosen
               and dm(window_losses(cs[k]), window_losses(chosen)) < below
               and (within is None or cs[k]["mase"] <= chosen["mase"] * (1 + within))]
    return np.mean([np.array(chosen["point"])] + [np.array(c["point"]) for c in joining], axis=0)


NETWORK_CODES = ("network", "+baseline", "+ets", "+theta", "+arima")


def discounted(factor):
    """The guard's rule with every contender that holds the network (alone or combined) judged at
    `factor` times its backtest MASE, window by window: a correction for the network's early
    stopping and calibration having read the windows it is backtested on. Measured and not
    adopted (benchmarks/RESULTS.md, issue 12, session 30)."""
    def scaled(c):
        return dict(c, mase=c["mase"] * factor, windows=[dict(w, scale=w["scale"] / factor) for w in c["windows"]])

    def rule(cs):
        return guard(Contest({k: scaled(c) if k in NETWORK_CODES else c for k, c in cs.items()}, cs.naive_presumed or None))
    return rule


def rules(codes):
    r = {"the guard's rule": guard, "the choice before ETS and ARIMA join": lambda cs: choice(cs)["point"]}
    for factor in (1.1, 1.2):
        r[f"the guard's rule, the network's backtest × {factor}"] = discounted(factor)
    r.update({f"{code} alone": (lambda code: lambda cs: cs[code]["point"] if code in cs else None)(code) for code in codes})
    r["lowest backtest MASE"] = lambda cs: min(cs.values(), key=lambda c: c["mase"])["point"]
    for tolerance in (0.1, 0.2, math.inf):
        r[f"mean of ties, within {tolerance:.0%}" if tolerance < math.inf else "mean of ties, test only"] = tied_mean(tolerance)
    return r


def scores_of(path):
    """The records of one --contenders file, and per rule and series the held-out MASE of each
    origin the rule forecasts."""
    lines = [json.loads(l) for l in open(path)]
    codes = sorted({c["code"] for l in lines for c in l["contenders"]})
    scores = {}
    for l in lines:
        cs = Contest({c["code"]: c for c in l["contenders"] if c["mase"] >= 0 and c["point"]}, l.get("naive_presumed"))
        if not cs:  # a series too short for any backtest at this origin
            continue
        for name, rule in rules(codes).items():
            point = rule(cs)
            if point is not None:
                scores.setdefault(name, {}).setdefault(l["series"], []).append(
                    mase(l["heldout"]["actual"], point, l["heldout"]["scale"]))
    return lines, scores


def main(paths):
    for path in paths:
        lines, scores = scores_of(path)
        series = sorted({l["series"] for l in lines})
        print(f"== {path}: {len(series)} series, {len(lines)} origins")
        table = {name: np.mean([np.mean(v[s]) for s in series]) for name, v in scores.items() if all(s in v for s in series)}
        for name, value in sorted(table.items(), key=lambda kv: kv[1]):
            print(f"  {value:7.3f}  {name}")


if __name__ == "__main__":
    main(sys.argv[1:])

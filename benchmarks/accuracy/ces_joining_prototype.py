"""CES (complex exponential smoothing, Svetunkov and Kourentzes; statsforecast's AutoCES) added to
the guard's rules offline, before anything is built in Swift (benchmarks/RESULTS.md, issue 12,
session 35). Two steps:

    VENV/bin/python ces_joining_prototype.py windows GROUP RECORDS CACHE
        AutoCES fitted before every backtest window and held-out horizon of the records that
        `guard_rules.sh` wrote for GROUP (a set of scum_prototype.py's), cached as JSON
    python3 ces_joining_prototype.py rules SEEDS CACHE_DIR RECORDS_PATTERN GROUP[,GROUP...]
        the guard's rule (guard_rules.py) beside CES joining the choice like ARIMA (where it beat
        it on the backtest windows), like ETS (where it ties: DM t below 1.645), like ETS with a
        MASE limit, or contending; mean over the seeds of each group's mean held-out MASE, then
        the geometric mean of the ratios to the guard's rule. RECORDS_PATTERN holds {seed} and
        {group}, e.g. /tmp/gr-s{seed}/{group}.jsonl.

The networks' records differ by seed; CES does not, so one cache serves every seed. CES is fitted
afresh (specification and parameters) before each window. Analysis, not part of the product or
of CI."""

import json
import sys

import numpy as np

import guard_rules as g


def windows(group, records, cache_path):
    import warnings
    import pandas as pd
    from statsforecast.models import AutoCES
    from scum_prototype import SETS
    warnings.filterwarnings("ignore")
    path, series_column, time_column, value_column, m, _, _ = SETS[group]
    df = pd.read_csv(path)
    if series_column not in df:
        df[series_column] = "series"
    series = {str(k): s.sort_values(time_column)[value_column].values.astype(float) for k, s in df.groupby(series_column)}

    def ces(train, steps):
        try:
            return [float(v) for v in AutoCES(season_length=m).forecast(y=train, h=steps)["mean"]]
        except Exception:
            return None

    def start_of(x, actual, before):
        for s in range(before - len(actual), -1, -1):
            if np.allclose(x[s:s + len(actual)], actual, rtol=1e-6, atol=1e-6):
                return s
        raise ValueError("a backtest window not found in the series")

    cache = {}
    for line in open(records):
        r = json.loads(line)
        reference = next(c for c in r["contenders"] if c["windows"])
        x, origin = series[str(r["series"])], r["origin"]
        cache[f'{r["series"]}|{origin}'] = {
            "windows": [ces(x[:start_of(x, w["actual"], origin)], len(w["actual"])) for w in reference["windows"]],
            "heldout": ces(x[:origin], len(r["heldout"]["actual"]))}
    json.dump(cache, open(cache_path, "w"))
    print(group, len(cache), "records")


def with_ces(record, cache):
    cs = {c["code"]: c for c in record["contenders"] if c["mase"] >= 0 and c["point"]}
    entry = cache.get(f'{record["series"]}|{record["origin"]}')
    if cs and entry and entry["heldout"] and all(entry["windows"]):
        reference = next(iter(cs.values()))
        c = {"code": "ces", "point": entry["heldout"],
             "windows": [dict(w, point=p) for w, p in zip(reference["windows"], entry["windows"])]}
        c["mase"] = float(np.mean(g.window_losses(c)))
        cs["ces"] = c
    return g.Contest(cs, record.get("naive_presumed"))


def without_ces(cs):
    return g.Contest({k: v for k, v in cs.items() if k != "ces"}, cs.naive_presumed or None)


def variant(joins_below=None, contends=False, within=None):
    """The guard's rule with CES joining below a DM statistic (None: never), contending or not,
    and joining only within `within` of the choice's backtest MASE."""
    def rule(cs):
        if "ces" in cs and within is not None and cs["ces"]["mase"] > g.choice(cs if contends else without_ces(cs))["mase"] * (1 + within):
            cs = without_ces(cs)
        joiners, joins_only = dict(g.JOINERS), g.JOINS_ONLY
        try:
            g.JOINERS.pop("ces", None)  # the product's own rule is one of the variants
            if joins_below is not None:
                g.JOINERS["ces"] = (joins_below, None)
            g.JOINS_ONLY = tuple(k for k in joins_only if k != "ces") + (() if contends else ("ces",))
            return g.guard(cs)
        finally:
            g.JOINERS.clear()
            g.JOINERS.update(joiners)
            g.JOINS_ONLY = joins_only
    return rule


g.COST["ces"] = 2
RULES = {
    "the guard's rule": variant(),
    "CES joins where it beat the choice (as ARIMA)": variant(0.0),
    "CES joins where it ties (as ETS)": variant(g.THRESHOLD),
    "... within 10% of the choice's MASE": variant(g.THRESHOLD, within=0.1),
    "... within 15%": variant(g.THRESHOLD, within=0.15),
    "... within 20%": variant(g.THRESHOLD, within=0.2),
    "... within 30%": variant(g.THRESHOLD, within=0.3),
    "... within 50%": variant(g.THRESHOLD, within=0.5),
    "CES contends": variant(contends=True),
    "CES alone": lambda cs: cs["ces"]["point"] if "ces" in cs else g.guard(cs),
}


def rules(seeds, cache_dir, pattern, groups):
    table = {}
    for group in groups:
        cache = json.load(open(f"{cache_dir}/ces-{group}.json"))
        per_seed = {k: [] for k in RULES}
        for seed in seeds:
            scores = {k: {} for k in RULES}
            for line in open(pattern.format(seed=seed, group=group)):
                record = json.loads(line)
                cs = with_ces(record, cache)
                if not cs:
                    continue
                for name, rule in RULES.items():
                    scores[name].setdefault(record["series"], []).append(
                        g.mase(record["heldout"]["actual"], rule(cs), record["heldout"]["scale"]))
            for name in RULES:
                per_seed[name].append(np.mean([np.mean(v) for v in scores[name].values()]))
        table[group] = {name: float(np.mean(v)) for name, v in per_seed.items()}
    names = list(RULES)
    print("| rule | " + " | ".join(groups) + " | geometric mean of the ratios | better / worse groups |")
    print("| --- |" + " ---: |" * (len(groups) + 2))
    for name in names:
        ratios = [table[gr][name] / table[gr][names[0]] for gr in groups]
        print(f"| {name} | " + " | ".join(f"{table[gr][name]:.3f}" for gr in groups)
              + f" | {np.exp(np.mean(np.log(ratios))):.3f} | {sum(r < 0.999 for r in ratios)} / {sum(r > 1.001 for r in ratios)} |")


if __name__ == "__main__":
    if sys.argv[1] == "windows":
        windows(*sys.argv[2:5])
    else:
        rules([int(s) for s in sys.argv[2].split(",")], sys.argv[3], sys.argv[4], sys.argv[5].split(","))

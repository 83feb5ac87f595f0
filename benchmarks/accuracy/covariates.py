"""Issue 14: covariates beside the same jobs without them, on the windows, seeds and protocol of
accuracy.py (one `forecastd train JOB --as-of ORIGIN` per origin, the published forecast scored
by MASE), without the statsforecast peers (they do not read covariates and do not change). A
future-known covariate is read, with --as-of, for the horizon after the origin too (the table
holds those rows; forecastd reads their covariates and never their values). Run through
covariates.sh."""

import argparse
import copy
import os
import subprocess
import time

import numpy as np

import accuracy as A
import common as C

# data set -> its variants: (job name suffix, past covariates, future-known covariates, note)
VARIANTS = {
    "elecdemand": [
        ("pastcov", ["temperature_c"], [], ""),
        ("workday", ["temperature_c"], ["workday"], ""),
        ("perfectweather", [], ["workday", "temperature_c"],
         "temperature_c future-known: the real temperature standing in for a perfect weather forecast"),
    ],
    "weather": [("pastcov", ["dewp", "humid"], [], "")],
    # Static covariates (item 3) need a global model: the panel's one global model without them,
    # and with each origin country's region, hemisphere and distance to Sydney (great-circle,
    # rounded) from a table joined by key.
    "aus_arrivals": [
        ("global", [], [], "", {"scope": "global"}),
        ("static", [], [], "", {"scope": "global", "versus": "aus_arrivals_global",
                                "static": "SELECT origin, region, hemisphere, distance_km FROM public.aus_origins"}),
    ],
}

# Tables that static covariates' queries read, created after the data set's own.
STATIC_TABLES = {
    "aus_arrivals": ["CREATE TABLE aus_origins (origin text, region text, hemisphere text, distance_km integer)",
                     "INSERT INTO aus_origins VALUES ('Japan', 'Asia', 'north', 7800), ('NZ', 'Oceania', 'south', 2200),"
                     " ('UK', 'Europe', 'north', 17000), ('US', 'North America', 'north', 12000)"],
}


def names(columns):
    return "[" + ", ".join(f'"{c}"' for c in columns) + "]"


def variant(ds, suffix, past, future, extra=None):
    """The job of `ds` with covariates, named apart so that all live in one configuration."""
    extra = extra or {}
    v = copy.copy(ds)
    v.name = ds.name + "_" + suffix
    v.table = ds.table
    v.load_sql = []
    v.job_toml = ds.job_toml.replace(f'name = "{ds.name}"', f'name = "{v.name}"') \
        + (f"past_covariates = {names(past)}\n" if past else "") + (f"future_covariates = {names(future)}\n" if future else "") \
        + (f'static_covariates = "{extra["static"]}"\n' if "static" in extra else "") \
        + (f'[jobs.model]\nscope = "{extra["scope"]}"\n' if "scope" in extra else "")
    # A job without a series column has one series named after the job.
    if "series_column" not in ds.job_toml:
        fn = ds.series_fn
        v.series_fn = lambda: {v.name: s for s in fn().values()}
    return v


def network_backtest(r):
    """Mean of the network's own backtest MASE over the origins (published or not)."""
    vals = [float(m["backtest_mase"]) for run in r["runs"] for m in run["models"]
            if m["cell"] in ("lstm", "gru", "rnn") and m["backtest_mase"] not in ("", None)]
    return float(np.mean(vals)) if vals else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--only", nargs="*", help="data sets of VARIANTS to run, or DATASET_SUFFIX for one variant (default: all)")
    a = ap.parse_args()
    A.SKIP_PEERS = True

    def log(msg):
        print(msg, flush=True)

    by_name = {d.name: d for d in C.datasets()}
    # ACC_ORIGINS: more windows than the accuracy table's (the last N horizons), for a firmer
    # comparison than five windows give; the default keeps the table's.
    if os.environ.get("ACC_ORIGINS"):
        for d in by_name.values():
            d.origins = int(os.environ["ACC_ORIGINS"])
    chosen = [n for n in VARIANTS if not a.only or n in a.only or any(o.startswith(n + "_") for o in a.only)]
    sets, info = [], {}
    for n in chosen:
        sets.append(by_name[n])
        info[n] = ([], [], "", {})
        for suffix, past, future, note, *extra in VARIANTS[n]:
            if a.only and n not in a.only and f"{n}_{suffix}" not in a.only:
                continue
            v = variant(by_name[n], suffix, past, future, *extra)
            sets.append(v)
            info[v.name] = (past, future, note, extra[0] if extra else {})
        log(f"==> loading {n}: {C.load(by_name[n])} rows")
        for sql in STATIC_TABLES.get(n, []):
            C.psql(sql)
    config = C.write_config(os.path.join(C.TMP, "forecastd.toml"), sets)
    log("==> configuration:\n" + open(config).read().replace(C.DB_URL, "<throwaway>"))
    subprocess.run([C.FORECASTD, "--config", config, "migrate"], check=True)
    subprocess.run([C.FORECASTD, "--config", config, "check-config"], check=True)
    results = []
    for ds in sets:
        log(f"==> {ds.name}: {ds.origins} origins of {ds.horizon} steps")
        r = A.run_dataset(ds, config, log)
        r["network_backtest_mase"] = network_backtest(r)
        for k, s in r["series"].items():
            log(f"  {k}: forecastd {A.fmt(s['forecastd'])} (coverage {s['coverage']:.2f}, cells {s['cells']})")
        results.append(r)
    load_after = ", ".join(open("/proc/loadavg").read().split()[:3])
    meta = {"command": a.command, "machine": a.machine, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": a.commit, "load_before": a.load_before, "load_after": load_after}
    C.dump(a.json, {"meta": meta, "results": results})

    rows = ["| data set | past covariates | future-known covariates | static covariates, scope | forecastd MASE (published) | vs none | per series | published (per origin) | the network's own backtest MASE | coverage | train s / origin |",
            "| --- | --- | --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: |"]
    plain = {r["name"]: np.mean([s["forecastd"] for s in r["series"].values()]) for r in results if r["name"] in VARIANTS}
    notes = []
    for r in results:
        base = next(n for n in VARIANTS if r["name"] == n or r["name"].startswith(n + "_"))
        past, future, note, extra = info[r["name"]]
        if note:
            notes.append(f"{r['name']}: {note}.")
        ss = r["series"]
        mase = np.mean([s["forecastd"] for s in ss.values()])
        cov = np.mean([s["coverage"] for s in ss.values()])
        per = ", ".join(f"{k} {A.fmt(s['forecastd'])}" for k, s in ss.items()) if len(ss) > 1 else ""
        cells = "; ".join(f"{k}: " + " ".join(c or "-" for c in s["cells"]) for k, s in ss.items())
        wall = np.mean([run["wall_seconds"] for run in r["runs"]])
        # Against the same job without covariates, or the variant named as its comparison.
        versus = next((np.mean([s["forecastd"] for s in x["series"].values()]) for x in results if x["name"] == extra.get("versus")), plain.get(base))
        change = f"{(mase / versus - 1) * 100:+.1f}%" if versus is not None and r["name"] != base else ""
        statics = ("from a query" if "static" in extra else "none") + ", " + extra.get("scope", "series")
        covs = lambda c: ", ".join(c) or "none"
        label = covs(future) + (" (perfect forecast)" if note else "")
        rows.append(f"| {base} | {covs(past)} | {label} | {statics} | **{A.fmt(mase)}** | {change} | {per} | {cells} | {A.fmt(r['network_backtest_mase'])} | {cov:.0%} | {wall:.1f} |")
    md = ("Covariates (`[jobs.source] past_covariates`, `future_covariates`) beside the same jobs without them: the data sets, "
          f"windows (the last {sets[0].origins} horizons), seeds and protocol of this section's first table (one `forecastd train JOB --as-of ORIGIN` "
          "per origin, reading only rows before it, covariates included, and a future-known covariate's rows of the horizon "
          "after it, whose values it never reads; the published forecast scored), with the "
          "release defaults and no statsforecast peers (they read no covariates). The network's own backtest MASE is "
          "the mean, over the origins, of the `backtest` MASE forecastd recorded for its network on the windows before "
          "each origin (published or not).\n\n"
          f"Run {meta['date']} on {a.machine}; forecastd built from {a.commit}. Load average before/after: "
          f"{a.load_before} / {load_after}.\n\n```sh\n{a.command}\n```\n\n" + "\n".join(rows) + "\n"
          + ("\n" + "\n".join(notes) + "\n" if notes else ""))
    print("\n" + md)
    if not a.no_write:
        C.write_subsection(a.results, "Forecast accuracy", "Covariates (issue 14)", md)
        log(f"==> wrote the Covariates subsection of {a.results}")


if __name__ == "__main__":
    main()

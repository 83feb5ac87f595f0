#!/usr/bin/env python3
"""Issue 17: how far a warm-up (a network reading only its last steps from the zero state, when a
series has no saved state) forecasts from reading on from the saved states, which forecasts the
bits of a full read.

For one job (a data set loaded by compare.sh): `forecastd train --as-of T0`, then for each origin
T0 + k days (k = 0..ORIGINS-1): the forecast reading on from the states (k = 0: training's own,
which is a full read's), then the same predict with the states deleted (the warm-up), then the
states put back so that the chain of states stays a full read's. Reports per data set the mean
absolute difference of the medians relative to the mean absolute level of the series, the same
for the interval bounds, and MASE of both against the actuals (scaled by the in-sample seasonal
naive MAE of the history before each origin).

Only the standard library: psql and forecastd run as subprocesses.
"""
import argparse, datetime as dt, json, os, subprocess, sys, time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--forecastd", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--source", required=True, help="SQL returning series, ts, value of the whole data")
    ap.add_argument("--t0", required=True, help="training's --as-of (ISO 8601, UTC)")
    ap.add_argument("--step-hours", type=float, required=True)
    ap.add_argument("--season", type=int, required=True)
    ap.add_argument("--origins", type=int, default=7)
    ap.add_argument("--origin-hours", type=float, default=24)
    ap.add_argument("--json")
    a = ap.parse_args()
    psql = os.environ["PSQL"].split()

    def sql(q):
        return subprocess.run(psql + ["-At", "-F", "\t", "-c", q], check=True, capture_output=True, text=True).stdout

    def forecastd(*args):
        started = time.time()
        out = subprocess.run([a.forecastd, "--config", a.config, *args], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(out.stdout[-3000:] + out.stderr[-3000:])
        timing = [l for l in (out.stdout + out.stderr).splitlines() if "predict timing" in l or "train timing" in l]
        return time.time() - started, (timing[-1] if timing else "")

    def forecasts():
        rows = sql(f"SELECT series, target_ts, forecast_value, lower_bound, upper_bound FROM forecastd.latest_forecasts WHERE job = '{a.job}'")
        result = {}
        for line in rows.splitlines():
            k, t, f, lo, hi = line.split("\t")
            result[(k, t)] = (float(f), float(lo) if lo else None, float(hi) if hi else None)
        return result

    history = {}
    for line in sql(f"SELECT series, extract(epoch FROM ts), value FROM ({a.source}) AS s WHERE value IS NOT NULL ORDER BY 1, 2").splitlines():
        k, t, v = line.split("\t")
        history.setdefault(k, []).append((float(t), float(v)))
    actual = {(k, t): v for k, rows in history.items() for t, v in rows}

    def epoch(text):
        return dt.datetime.fromisoformat(text.replace(" ", "T").replace("+00", "+00:00")).timestamp()

    def mase_scale(k, origin):
        values = [v for t, v in history[k] if t < origin]
        m = a.season
        diffs = [abs(values[i] - values[i - m]) for i in range(m, len(values))]
        return sum(diffs) / len(diffs) if diffs else float("nan")

    t0 = dt.datetime.fromisoformat(a.t0.replace("Z", "+00:00"))
    seconds, line = forecastd("train", a.job, "--as-of", a.t0)
    print(f"train {seconds:.1f}s: {line}", file=sys.stderr)
    model = sql(f"SELECT cell, hyperparameters->>'lags', hyperparameters->>'season', hyperparameters->>'context', hyperparameters->>'tbpttK2', "
                f"hyperparameters->>'combined_with' FROM forecastd.models WHERE job = '{a.job}' AND status = 'active'").strip()
    print(f"active model (cell, lags, season, context, tbptt_k2, combined_with): {model}", file=sys.stderr)
    per_origin = []
    for k in range(a.origins):
        as_of = (t0 + dt.timedelta(hours=k * a.origin_hours)).strftime("%Y-%m-%dT%H:%M:%SZ")
        if k > 0:
            _, line = forecastd("predict", a.job, "--as-of", as_of)
        stateful = forecasts()
        sql("DROP TABLE IF EXISTS kept_states; CREATE TABLE kept_states AS SELECT * FROM forecastd.series_state")
        sql("DELETE FROM forecastd.series_state")
        seconds, line = forecastd("predict", a.job, "--as-of", as_of)
        warm = forecasts()
        sql("DELETE FROM forecastd.series_state; INSERT INTO forecastd.series_state SELECT * FROM kept_states")
        origin = epoch(as_of)
        stats = {"as_of": as_of, "predict_s": round(seconds, 2), "timing": line[line.find("continued"):] if line else ""}
        diffs, bound_diffs, levels, err_s, err_w, scales = [], [], [], [], [], []
        for key, (f, lo, hi) in stateful.items():
            if key not in warm:
                continue
            wf, wlo, whi = warm[key]
            diffs.append(abs(f - wf))
            if lo is not None and wlo is not None:
                bound_diffs += [abs(lo - wlo), abs(hi - whi)]
            levels.append(abs(f))
            t = epoch(key[1])
            if (key[0], t) in actual:
                y = actual[(key[0], t)]
                s = mase_scale(key[0], origin)
                err_s.append(abs(y - f) / s)
                err_w.append(abs(y - wf) / s)
        level = sum(levels) / len(levels)
        stats.update(points=len(diffs), relative_difference=sum(diffs) / len(diffs) / level,
                     relative_bound_difference=(sum(bound_diffs) / len(bound_diffs) / level) if bound_diffs else None,
                     max_relative_difference=max(diffs) / level,
                     mase_states=(sum(err_s) / len(err_s)) if err_s else None, mase_warm_up=(sum(err_w) / len(err_w)) if err_w else None)
        per_origin.append(stats)
        print(json.dumps(stats), file=sys.stderr)
    mean = lambda key: sum(o[key] for o in per_origin if o[key] is not None) / max(1, sum(o[key] is not None for o in per_origin))
    summary = {"job": a.job, "model": model, "origins": per_origin,
               "relative_difference": mean("relative_difference"), "relative_bound_difference": mean("relative_bound_difference"),
               "max_relative_difference": max(o["max_relative_difference"] for o in per_origin),
               "mase_states": mean("mase_states"), "mase_warm_up": mean("mase_warm_up")}
    print(json.dumps({k: v for k, v in summary.items() if k != "origins"}))
    if a.json:
        json.dump(summary, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()

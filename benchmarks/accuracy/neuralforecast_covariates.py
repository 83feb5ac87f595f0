"""NeuralForecast's LSTM as a peer for covariates (issue 14): the same elecdemand windows as
covariates.py (the last N horizons of 48 half-hours, each fit seeing only the rows before its
origin), the same variants (no covariates; `workday` future-known with `temperature_c` past; both
future-known, the real temperature standing in for a perfect weather forecast) through
NeuralForecast's `futr_exog_list` / `hist_exog_list`, the same MASE (season-48 in-sample scale).
forecastd's figures are read from covariates.py's JSON of the same windows, not run again.
Run through neuralforecast_covariates.sh."""

import argparse
import json
import logging
import os
import time
import warnings

import numpy as np
import pandas as pd

import common as C

warnings.filterwarnings("ignore")
for name in ("pytorch_lightning", "lightning", "lightning_fabric"):
    logging.getLogger(name).setLevel(logging.ERROR)

H = 48
# variant -> (past covariates, future-known covariates, label), as in covariates.py's VARIANTS;
# the forecastd job of each variant, to read its figure.
VARIANTS = [
    ("none", [], [], "elecdemand"),
    ("workday", ["temperature_c"], ["workday"], "elecdemand_workday"),
    ("perfectweather", [], ["workday", "temperature_c"], "elecdemand_perfectweather"),
]


def frame():
    """The data set on its half-hour grid, as forecastd's benchmark scores it (`_elec_series`)."""
    e = pd.read_csv(os.path.join(C.DATASETS, "elecdemand_vic_2014.csv"))
    e["ts"] = pd.to_datetime(e.ts, utc=True)
    e = e.set_index("ts")[["demand_gw", "workday", "temperature_c"]].resample("30min").mean().interpolate()
    return e


def fit_predict(data, i, past, future, settings):
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM
    ds = data.index.tz_convert(None)
    df = pd.DataFrame({"unique_id": "elecdemand", "ds": ds[:i], "y": data.demand_gw.values[:i].astype(np.float32)})
    for c in past + future:
        df[c] = data[c].values[:i].astype(np.float32)
    model = LSTM(h=H, futr_exog_list=future or None, hist_exog_list=past or None, random_seed=1,
                 accelerator="cpu", devices=1, enable_progress_bar=False, enable_model_summary=False, logger=False,
                 enable_checkpointing=False, **settings)
    nf = NeuralForecast(models=[model], freq="30min")
    started = time.perf_counter()
    nf.fit(df=df)
    fit = time.perf_counter() - started
    futr = None
    if future:
        futr = pd.DataFrame({"unique_id": "elecdemand", "ds": ds[i:i + H]})
        for c in future:
            futr[c] = data[c].values[i:i + H].astype(np.float32)
    f = nf.predict(futr_df=futr)
    return f["LSTM"].values.astype(float), fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--forecastd-json", required=True, help="covariates.py's JSON of the same windows")
    ap.add_argument("--command", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--origins", type=int, default=5)
    ap.add_argument("--max-steps", type=int, default=300)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import neuralforecast
    import torch

    # Comparable with forecastd's defaults on this grid: an input window of its context (two
    # days of half-hours, `ForecasterSettings.resolved`), its hidden size, robust scaling (as
    # forecastd's `RobustScaler`); max_steps modest so that a run takes minutes on 2 cores.
    settings = {"input_size": 96, "encoder_hidden_size": 32, "encoder_n_layers": 1, "max_steps": a.max_steps,
                "scaler_type": "robust", "learning_rate": 1e-3, "batch_size": 32}
    data = frame()
    y = data.demand_gw.values.astype(float)
    starts = C.windows(y, H, a.origins)
    theirs = {r["name"]: r for r in json.load(open(a.forecastd_json))["results"]}
    rows, summary = [], []
    for name, past, future, job in VARIANTS:
        if a.only and name not in a.only:
            continue
        per = []
        for i in starts:
            pred, fit = fit_predict(data, i, past, future, settings)
            scale = C.mase_scale(y[:i], 48)
            mase = float(np.mean(np.abs(pred - y[i:i + H])) / scale)
            per.append({"origin": C.iso(data.index[i]), "mase": mase, "fit_seconds": fit})
            print(f"  {name} origin {per[-1]['origin']}: NeuralForecast MASE {mase:.3f} (fit {fit:.1f}s)", flush=True)
        fd = theirs.get(job)
        # A job without a series column has one series, named after the job.
        fd_mase = float(fd["series"][job]["forecastd"]) if fd else float("nan")
        fd_per = fd["series"][job].get("per_origin_forecastd") if fd else None
        nf_mase = float(np.mean([p["mase"] for p in per]))
        summary.append({"variant": name, "past": past, "future": future, "nf_mase": nf_mase, "forecastd_mase": fd_mase,
                        "nf_per_origin": [p["mase"] for p in per], "forecastd_per_origin": fd_per,
                        "nf_fit_seconds": float(np.mean([p["fit_seconds"] for p in per]))})
        rows.append({"variant": name, "windows": per})
    load_after = ", ".join(open("/proc/loadavg").read().split()[:3])
    meta = {"command": a.command, "machine": a.machine, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "commit": a.commit, "load_before": a.load_before, "load_after": load_after, "settings": settings,
            "neuralforecast": neuralforecast.__version__, "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "forecastd_json": os.path.basename(a.forecastd_json)}
    C.dump(a.json, {"meta": meta, "summary": summary, "rows": rows})

    base = {s["variant"]: s for s in summary}.get("none")
    fmt = lambda x: "n/a" if x != x else f"{x:.3f}"
    change = lambda x, b: "" if b is None or x != x or b != b else f"{(x / b - 1) * 100:+.1f}%".replace("-", "−")
    label = {"none": "none", "workday": "workday future-known, temperature_c past",
             "perfectweather": "workday and temperature_c future-known (perfect forecast)"}
    md = [f"NeuralForecast's LSTM beside forecastd on the elecdemand windows of the tables above (the last {a.origins} "
          f"horizons of 48 half-hours, each fit on the rows before its origin only), with the same covariates given as "
          "`futr_exog_list` (future-known, the horizon's values passed to `predict` as `futr_df`) and `hist_exog_list` "
          "(past-observed), and the same MASE (season-48 in-sample scale, mean over windows). NeuralForecast "
          f"{neuralforecast.__version__}, torch {torch.__version__} (CPU, {meta['torch_threads']} threads): "
          f"`LSTM(h=48, input_size={settings['input_size']}, encoder_hidden_size={settings['encoder_hidden_size']}, "
          f"encoder_n_layers=1, max_steps={settings['max_steps']}, scaler_type=\"robust\", learning_rate=1e-3, "
          "batch_size=32, random_seed=1)`, its other settings default: an input window of forecastd's context on this "
          "grid (two days), forecastd's hidden size, and the `max_steps` of `neuralforecast_speed.sh`. "
          f"forecastd's figures are those of the run above, read from `{meta['forecastd_json']}` (same windows; not run again).",
          "",
          f"Run {meta['date']} on {a.machine}, from {a.commit}. Load average before/after: {a.load_before} / {load_after}.",
          "",
          "```sh", a.command, "```", "",
          "| covariates | forecastd MASE | vs none | NeuralForecast LSTM MASE | vs none | NeuralForecast fit s / origin |",
          "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for s in summary:
        md.append(f"| {label[s['variant']]} | **{fmt(s['forecastd_mase'])}** | {change(s['forecastd_mase'], base and base['forecastd_mase']) if s['variant'] != 'none' else ''} "
                  f"| **{fmt(s['nf_mase'])}** | {change(s['nf_mase'], base and base['nf_mase']) if s['variant'] != 'none' else ''} | {s['nf_fit_seconds']:.0f} |")
    md.append("")
    md.append("Per origin (oldest first), NeuralForecast: " + "; ".join(
        f"{label[s['variant']]} " + ", ".join(f"{x:.3f}" for x in s["nf_per_origin"]) for s in summary) + ". forecastd: " + "; ".join(
        f"{label[s['variant']]} " + ", ".join(f"{x:.3f}" for x in s["forecastd_per_origin"] or []) for s in summary) + ".")
    md = "\n".join(md) + "\n"
    print("\n" + md)
    if not a.no_write:
        C.write_subsection(a.results, "Forecast accuracy", "Covariates beside NeuralForecast (issue 14)", md)
        print(f"==> wrote the Covariates beside NeuralForecast subsection of {a.results}")


if __name__ == "__main__":
    main()

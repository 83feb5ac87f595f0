"""Training speed and accuracy of forecastd's default LSTM beside NeuralForecast's
LSTM(h=24, input_size=72, max_steps=300) on one weather station (EWR), at the same five rolling
origins as the accuracy benchmark, in the same run. Run through neuralforecast_speed.sh."""

import argparse
import logging
import os
import subprocess
import time
import warnings

import numpy as np
import pandas as pd

import common as C

warnings.filterwarnings("ignore")
logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
logging.getLogger("lightning").setLevel(logging.ERROR)
logging.getLogger("lightning_fabric").setLevel(logging.ERROR)


def nf_fit_predict(train, h, max_steps=300):
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.models import LSTM
    df = pd.DataFrame({"unique_id": "EWR", "ds": train.index.tz_convert(None), "y": train.values.astype(np.float32)})
    model = LSTM(h=h, input_size=72, max_steps=max_steps, random_seed=1, accelerator="cpu", devices=1,
                 enable_progress_bar=False, enable_model_summary=False, logger=False, enable_checkpointing=False)
    nf = NeuralForecast(models=[model], freq="h")
    started = time.perf_counter()
    nf.fit(df=df)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    f = nf.predict()
    pred = time.perf_counter() - started
    return f["LSTM"].values.astype(float), fit, pred, torch.get_num_threads(), torch.__version__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--load-before", required=True)
    ap.add_argument("--commit", required=True)
    ap.add_argument("--origins", type=int, default=5)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import neuralforecast

    ds = next(d for d in C.datasets() if d.name == "weather")
    print(f"==> loading weather: {C.load(ds)} rows", flush=True)
    config = C.write_config(os.path.join(C.TMP, "forecastd.toml"), [ds])
    subprocess.run([C.FORECASTD, "--config", config, "migrate"], check=True)
    version = subprocess.run([C.FORECASTD, "version"], capture_output=True, text=True).stdout.strip().split("\n")[0]
    s = ds.series_fn()["EWR"]
    h = ds.horizon
    # One untimed fit of a few steps first, so that no timed fit pays torch's and Lightning's
    # one-time start-up (lazy imports, thread pools, first-call allocations).
    started = time.perf_counter()
    nf_fit_predict(s.iloc[:2000], h, max_steps=5)
    warmup = time.perf_counter() - started
    print(f"  NeuralForecast warm-up fit (5 steps, untimed): {warmup:.1f}s", flush=True)
    rows = []
    for i in C.windows(s.values, h, a.origins):
        t0 = s.index[i]
        train, test = s.iloc[:i], s.values[i:i + h].astype(float)
        scale = C.mase_scale(train.values, 24)
        before = C.max_model_id()
        wall, _ = C.forecastd_train(config, "weather", t0, series="EWR")
        models = C.models_since(before, "weather")
        fc, cell, _ = C.published("weather", "EWR", t0)
        fd = np.array([fc[C.epoch(t)][0] for t in s.index[i:i + h]])
        inside = sum(fc[C.epoch(t)][1] <= y <= fc[C.epoch(t)][2] for t, y in zip(s.index[i:i + h], test))
        nf, fit, pred, threads, torch_version = nf_fit_predict(train, h)
        row = {"origin": C.iso(t0), "scale": scale,
               "forecastd_wall": wall, "forecastd_train_seconds": sum(float(m["train_seconds"] or 0) for m in models),
               "forecastd_cell": cell, "forecastd_epochs": [m["epochs"] for m in models],
               "forecastd_mase": float(np.mean(np.abs(fd - test)) / scale), "forecastd_inside": int(inside),
               "nf_fit": fit, "nf_predict": pred, "nf_mase": float(np.mean(np.abs(nf - test)) / scale),
               "torch_threads": threads}
        rows.append(row)
        print(f"  origin {row['origin']}: forecastd {wall:.2f}s (model {row['forecastd_train_seconds']:.2f}s, {cell}) "
              f"MASE {row['forecastd_mase']:.3f} | NeuralForecast fit {fit:.1f}s MASE {row['nf_mase']:.3f}", flush=True)
    load_after = ", ".join(open("/proc/loadavg").read().split()[:3])
    tot = {k: float(np.sum([r[k] for r in rows])) for k in ["forecastd_wall", "forecastd_train_seconds", "nf_fit", "nf_predict"]}
    fd_mase = float(np.mean([r["forecastd_mase"] for r in rows]))
    nf_mase = float(np.mean([r["nf_mase"] for r in rows]))
    meta = {"command": a.command, "machine": a.machine, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "version": version, "commit": a.commit, "load_before": a.load_before, "load_after": load_after,
            "neuralforecast": neuralforecast.__version__, "torch": torch_version}
    C.dump(a.json, {"meta": meta, "rows": rows})
    speed_cmd = tot["nf_fit"] / tot["forecastd_wall"]
    speed_model = tot["nf_fit"] / tot["forecastd_train_seconds"]
    ratios = sorted(r["nf_fit"] / r["forecastd_wall"] for r in rows)
    n = len(rows)
    md = [
        "forecastd's default LSTM (the weather job with required keys only, `forecastd train weather --series EWR "
        "--as-of <origin>`) beside NeuralForecast's `LSTM(h=24, input_size=72, max_steps=300)` (its other settings "
        "default; `random_seed=1`, CPU) on the EWR station's hourly temperatures, retrained at each of the last "
        f"{n} origins of 24 hours (the accuracy benchmark's windows: each fit sees only the hours before its origin, "
        "about 8,600 of them), alternating forecastd and NeuralForecast at each origin in the same run. MASE as in "
        "the accuracy section (season-24 in-sample scale, mean over windows).",
        "",
        "```sh",
        a.command,
        "```",
        "",
        f"Run {meta['date']} on {a.machine}; {version} built from {a.commit}; NeuralForecast "
        f"{neuralforecast.__version__}, torch {torch_version} (CPU, {rows[0]['torch_threads']} threads). Load average "
        f"before/after: {a.load_before} / {load_after} (the load after is the run's own).",
        "",
        "| origin | forecastd `train` command (s) | forecastd `models.train_seconds` | published | forecastd MASE | "
        "NeuralForecast `fit` (s) | NeuralForecast MASE |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        md.append(f"| {r['origin']} | {r['forecastd_wall']:.2f} | {r['forecastd_train_seconds']:.2f} | {r['forecastd_cell']} | "
                  f"{r['forecastd_mase']:.3f} | {r['nf_fit']:.1f} | {r['nf_mase']:.3f} |")
    md.append(f"| **all {n}** | **{tot['forecastd_wall']:.1f}** | **{tot['forecastd_train_seconds']:.1f}** | | "
              f"**{fd_mase:.3f}** | **{tot['nf_fit']:.1f}** | **{nf_mase:.3f}** |")
    md.append("")
    ok_speed = speed_cmd >= 10
    ok_mase = fd_mase <= nf_mase
    md.append(f"NeuralForecast's fit time / forecastd's: **{speed_cmd:.0f}×** against the whole `forecastd train` command "
              f"(process start, reading the rows from PostgreSQL, training, forecastd's own 3-window backtest, writing "
              f"forecasts and metrics), **{speed_model:.0f}×** against the model's `train_seconds`. NeuralForecast's "
              f"time is `fit` alone (no process start, no import, no predict: predict added {tot['nf_predict']:.1f}s "
              f"in all; an untimed 5-step warm-up fit ran first and took {warmup:.1f}s). Per origin the ratio to the "
              f"command ranged {ratios[0]:.0f}× to {ratios[-1]:.0f}×. MASE: forecastd {fd_mase:.3f}, NeuralForecast {nf_mase:.3f}; forecastd interval coverage "
              f"{sum(r['forecastd_inside'] for r in rows) / (n * 24) * 100:.0f}% on these windows. "
              f"Target (≥ 10× faster with a MASE no worse): "
              f"{'met' if ok_speed and ok_mase else 'not met'} (speed {'yes' if ok_speed else 'no'}, MASE "
              f"{'yes' if ok_mase else 'no'}).")
    md = "\n".join(md)
    print("\n" + md)
    if not a.no_write:
        C.write_section(a.results, "Training speed beside NeuralForecast", md)
        print(f"==> wrote the Training speed beside NeuralForecast section of {a.results}")


if __name__ == "__main__":
    main()

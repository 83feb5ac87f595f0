"""The Python peer of `benchmarks/scale/run.sh --side-by-side` (issue 17): psycopg + PyTorch doing
what `forecastd train` does for a global model, minus its guard, backtest, calibration and saved
states: read every series, train one global LSTM for EPOCHS epochs (TBPTT chunks of 24 steps over
segments of about total/BATCH steps, pinball loss on HORIZON x 3 quantiles, Adam), forecast every
series from its end and COPY the forecasts back. Same table and settings as forecastd's job.
A benchmark peer only: never a dependency of forecastd or its tests.

    python peer.py URL [--hidden 64] [--batch 256] [--epochs 1] [--horizon 24] [--lags 24]
Prints one JSON line: seconds per stage and the training throughput (steps/s).
"""
import argparse, json, math, time

import numpy as np
import psycopg
import torch

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("--hidden", type=int, default=64)
p.add_argument("--batch", type=int, default=256)
p.add_argument("--epochs", type=int, default=1)
p.add_argument("--horizon", type=int, default=24)
p.add_argument("--lags", type=int, default=24)
p.add_argument("--tbptt", type=int, default=24)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
Q = torch.tensor([0.1, 0.5, 0.9])
t0 = time.perf_counter()

with psycopg.connect(a.url) as conn:
    rows = conn.execute("SELECT series, extract(epoch FROM ts)::bigint, value FROM public.readings ORDER BY series, ts").fetchall()
t_read = time.perf_counter()

# Per series: values scaled by median / IQR, inputs = [level, lags relative to it, hour and weekday cycles].
keys, series = [], {}
for key, ts, v in rows:
    series.setdefault(key, ([], []))
    series[key][0].append(ts); series[key][1].append(v)
L, H = a.lags, a.horizon
feats, targets, scales = [], [], []
for key, (ts, v) in series.items():
    v = np.asarray(v, dtype=np.float64); ts = np.asarray(ts)
    med = np.median(v); iqr = np.subtract(*np.percentile(v, [75, 25])) or 1.0
    s = (v - med) / iqr
    n = len(s)
    lagm = np.stack([np.concatenate([np.zeros(k), s[:-k]]) - s for k in range(1, L + 1)], 1)
    hour = (ts // 3600) % 24; day = (ts // 86400) % 7
    cyc = np.stack([np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), np.sin(2 * np.pi * day / 7), np.cos(2 * np.pi * day / 7)], 1)
    x = np.concatenate([s[:, None], lagm, cyc], 1).astype(np.float32)
    y = np.full((n, H), np.nan, dtype=np.float32)
    for h in range(1, H + 1):
        y[:n - h, h - 1] = s[h:] - s[:n - h]
    keys.append(key); feats.append(x); targets.append(y); scales.append((med, iqr, ts[-1]))

model = torch.nn.LSTM(feats[0].shape[1], a.hidden, batch_first=False)
head = torch.nn.Linear(a.hidden, H * 3)
opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-3)

def pinball(out, y):
    out = out.view(*y.shape, 3); y = y.unsqueeze(-1)
    mask = ~torch.isnan(y); d = torch.where(mask, y, torch.zeros_like(y)) - out
    loss = torch.maximum(Q * d, (Q - 1) * d) * mask
    return loss.sum() / mask.sum().clamp(min=1)

# Segments: every series cut into pieces of about total / batch steps, laid side by side.
total = sum(len(x) for x in feats)
seg = max(4 * a.tbptt, math.ceil(total / a.batch))
segments = [(i, s, min(s + seg, len(feats[i]))) for i in range(len(feats)) for s in range(0, len(feats[i]) - H, seg)]
t_prep = time.perf_counter()
steps = 0
for epoch in range(a.epochs):
    order = np.random.default_rng(epoch).permutation(len(segments))
    for g in range(0, len(order), a.batch):
        group = [segments[j] for j in order[g:g + a.batch]]
        T = max(e - s for _, s, e in group)
        X = np.zeros((T, len(group), feats[0].shape[1]), np.float32); Y = np.full((T, len(group), H), np.nan, np.float32)
        for b, (i, s, e) in enumerate(group):
            X[:e - s, b] = feats[i][s:e]; Y[:e - s, b] = targets[i][s:e]
            steps += e - s
        X = torch.from_numpy(X); Y = torch.from_numpy(Y)
        state = None
        for c in range(0, T, a.tbptt):
            out, state = model(X[c:c + a.tbptt], state)
            loss = pinball(head(out), Y[c:c + a.tbptt])
            opt.zero_grad(); loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()) + list(head.parameters()), 1.0)
            opt.step()
            state = tuple(s.detach() for s in state)
t_train = time.perf_counter()

# Forecast: every series read in full, batched, time-major.
forecasts = []
with torch.no_grad():
    for g in range(0, len(feats), a.batch):
        xs = feats[g:g + a.batch]
        T = max(len(x) for x in xs)
        X = np.zeros((T, len(xs), xs[0].shape[1]), np.float32)
        for b, x in enumerate(xs): X[T - len(x):, b] = x
        out, _ = model(torch.from_numpy(X))
        last = head(out[-1]).view(len(xs), H, 3).numpy()
        for b, x in enumerate(xs):
            med, iqr, last_ts = scales[g + b]
            level = x[-1, 0]
            forecasts.append((keys[g + b], last_ts, np.sort(level + last[b], axis=1) * iqr + med))
t_forecast = time.perf_counter()

with psycopg.connect(a.url) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS peer_predictions (series text, target_ts timestamptz, q10 float8, q50 float8, q90 float8)")
    conn.execute("TRUNCATE peer_predictions")
    with conn.cursor().copy("COPY peer_predictions FROM STDIN") as copy:
        for key, last_ts, f in forecasts:
            for h in range(H):
                copy.write_row((key, time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(int(last_ts) + 3600 * (h + 1))), *map(float, f[h])))
t_write = time.perf_counter()
print(json.dumps({"read_s": round(t_read - t0, 3), "prepare_s": round(t_prep - t_read, 3), "train_s": round(t_train - t_prep, 3),
                  "steps_per_s": round(steps / (t_train - t_prep)), "forecast_s": round(t_forecast - t_train, 3),
                  "write_s": round(t_write - t_forecast, 3), "wall_s": round(t_write - t0, 3), "series": len(keys), "rows": len(rows)}))

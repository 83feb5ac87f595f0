"""The peer of `forecastd bench ets`: statsforecast's AutoETS fitted on the series the bench
wrote (`--csv`), one after the other on one thread; numba's compilation is left out of the time.

    python benchmarks/statsforecast_ets_bench.py SERIES.csv [SEASON]
"""
import sys, time, csv
import numpy as np
from statsforecast.models import AutoETS
rows = {}
with open(sys.argv[1]) as f:
    for r in csv.DictReader(f):
        rows.setdefault(r["series"], []).append(float(r["value"]))
season = int(sys.argv[2]) if len(sys.argv) > 2 else 12
ys = [np.array(v) for v in rows.values()]
AutoETS(season_length=season).fit(ys[0])  # numba compilation outside the timing
t = time.time()
models = [AutoETS(season_length=season).fit(y).model_ for y in ys]
el = time.time() - t
print(f"statsforecast AutoETS: {len(ys)} series, {el:.3f} s, {1000*el/len(ys):.3f} ms per series")

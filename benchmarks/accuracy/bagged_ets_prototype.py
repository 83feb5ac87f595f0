"""Bagged ETS (Bergmeir, Hyndman and Benítez 2016; R's `forecast::baggedETS`) tried in Python
with statsforecast's AutoETS before it was built in Swift (benchmarks/RESULTS.md, issue 12,
session 34): on each short set's rolling origins, ETS alone against ETS averaged over the series
and COPIES−1 bootstrapped copies (Box–Cox with Guerrero's λ in [0, 1], STL with a seasonal window
of 7, the remainder resampled in moving blocks of two seasons). FIXED=1 fits the series' own
specification on the copies instead of choosing one on each. Prints the MASE (in-sample
seasonal-naive scale, mean over origins, then over series) of ETS, of the bagged mean and of the
bagged median. Analysis, not part of the product or of CI.

    VENV/bin/python bagged_ets_prototype.py SET [COPIES]    # SET: monthly_seven aus_arrivals
        airpassengers, or from ACC_CHECKS monthly_checks quarterly_checks rd_monthly rd_quarterly
"""

import os
import sys
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from statsforecast.models import AutoETS
from statsmodels.tsa.seasonal import STL

warnings.filterwarnings("ignore")
DATASETS = os.environ.get("DATASETS", os.path.join(os.path.dirname(__file__), "../../../shared/datasets"))
CHECKS = os.environ.get("ACC_CHECKS", "/tmp/checks")
FIXED = os.environ.get("FIXED") == "1"


def guerrero(x, m, lower=0.0, upper=1.0):
    """R's guer.cv minimised over [lower, upper]."""
    n = len(x) // m
    if n < 2:
        return 1.0
    xs = x[len(x) - n * m:].reshape(n, m)
    mu, sd = xs.mean(1), xs.std(1, ddof=1)

    def cv(lam):
        r = sd / mu ** (1 - lam)
        return r.std(ddof=1) / r.mean()
    return minimize_scalar(cv, bounds=(lower, upper), method="bounded").x


def boxcox(x, lam):
    return np.log(x) if abs(lam) < 1e-8 else (x ** lam - 1) / lam


def inverse(y, lam):
    return np.exp(y) if abs(lam) < 1e-8 else np.maximum(lam * y + 1, 1e-12) ** (1 / lam)


def moving_blocks(remainder, block, rng):
    n, out = len(remainder), []
    while len(out) < n + block:
        start = rng.integers(0, n - block + 1)
        out.extend(remainder[start:start + block])
    offset = rng.integers(0, block)
    return np.array(out[offset:offset + n])


def copies(x, m, count, rng):
    positive = x.min() > 0
    lam = guerrero(x, m) if positive else 1.0
    y = boxcox(x, lam) if positive else x
    if m <= 1 or len(y) <= 2 * m:
        return [x]
    parts = STL(y, period=m, seasonal=7).fit()
    fitted = parts.trend + parts.seasonal
    remainder = y - fitted
    back = (lambda v: inverse(v, lam)) if positive else (lambda v: v)
    return [x] + [back(fitted + moving_blocks(remainder, 2 * m, rng)) for _ in range(count - 1)]


def ets(x, m, h, model="ZZZ", damped=None):
    return AutoETS(season_length=m, model=model, damped=damped).forecast(y=x.astype(float), h=h)["mean"]


def chosen_spec(x, m):
    method = AutoETS(season_length=m).fit(x.astype(float)).model_["method"]  # "ETS(M,Ad,M)"
    parts = method[4:-1].split(",")
    return "".join(p[0] for p in parts), "d" in parts[1]


def rolling_origins(path, series_column, time_column, value_column, m, h, origins):
    """Each series of the CSV at each of the last `origins` origins, oldest first: (key, the
    history before the origin, the next h values, the history's in-sample seasonal-naive MAE)."""
    df = pd.read_csv(path)
    if series_column not in df:
        df[series_column] = "series"
    for key, g in df.groupby(series_column):
        x = g.sort_values(time_column)[value_column].values.astype(float)
        for o in range(origins, 0, -1):
            cut = len(x) - h * o
            train, test = x[:cut], x[cut:cut + h]
            yield key, train, test, np.mean(np.abs(train[m:] - train[:-m]))


def run(path, series_column, time_column, value_column, m, h, origins, count):
    rng = np.random.default_rng(1)
    rows = []
    for key, train, test, scale in rolling_origins(path, series_column, time_column, value_column, m, h, origins):
        single = ets(train, m, h)
        bag = copies(train, m, count, rng)
        if FIXED:
            spec, damped = chosen_spec(train, m)
            members = np.array([ets(b, m, h, spec, damped) for b in bag])
        else:
            members = np.array([ets(b, m, h) for b in bag])
        rows.append((key, np.mean(np.abs(test - single)) / scale, np.mean(np.abs(test - members.mean(0))) / scale,
                     np.mean(np.abs(test - np.median(members, 0))) / scale))
    per = pd.DataFrame(rows, columns=["series", "ets", "bagged mean", "bagged median"]).groupby("series").mean()
    print(f"{os.path.basename(path)}: {count} copies{' (the series specification refitted)' if FIXED else ''}")
    print(per.round(3).to_string())
    print("mean", per.mean().round(3).to_dict())


SETS = {
    "monthly_seven": (f"{DATASETS}/monthly_seven.csv", "series", "month", "value", 12, 12, 3),
    "aus_arrivals": (f"{DATASETS}/aus_arrivals_quarterly.csv", "origin", "quarter", "arrivals", 4, 8, 3),
    "airpassengers": (f"{DATASETS}/airpassengers.csv", "series", "month", "passengers", 12, 12, 2),
    "monthly_checks": (f"{CHECKS}/monthly_checks.csv", "series", "month", "value", 12, 12, 3),
    "quarterly_checks": (f"{CHECKS}/quarterly_checks.csv", "series", "quarter", "value", 4, 8, 3),
    "rd_monthly": (f"{CHECKS}/rd_monthly.csv", "series", "month", "value", 12, 12, 3),
    "rd_quarterly": (f"{CHECKS}/rd_quarterly.csv", "series", "quarter", "value", 4, 8, 3),
}

if __name__ == "__main__":
    run(*SETS[sys.argv[1]], int(sys.argv[2]) if len(sys.argv) > 2 else 20)

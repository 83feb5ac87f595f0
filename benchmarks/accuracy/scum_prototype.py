"""SCUM (Petropoulos and Svetunkov 2020, "A simple combination of univariate models", IJF 36: the
median of ETS, CES, ARIMA and the dynamic optimised Theta, an M4 benchmark that beat most
entries) tried in Python with statsforecast before anything is built in Swift
(benchmarks/RESULTS.md, issue 12, session 35). On each short set's rolling origins: each of the
four models alone, their median, the mean of ETS and CES, and the median of the three without
CES (forecastd has ETS, ARIMA and a Theta; CES is what it lacks). Prints the MASE (in-sample
seasonal-naive scale, mean over origins, then over series). Analysis, not part of the product
or of CI.

    VENV/bin/python scum_prototype.py SET    # SET as bagged_ets_prototype.py's, or m4_monthly m4_quarterly m4_weekly weekly_checks
"""

import os
import sys
import warnings

import numpy as np
import pandas as pd
from statsforecast.models import AutoARIMA, AutoCES, AutoETS, DynamicOptimizedTheta

from bagged_ets_prototype import CHECKS, SETS, rolling_origins

warnings.filterwarnings("ignore")
SETS["m4_monthly"] = (f"{CHECKS}/m4_monthly.csv", "series", "month", "value", 12, 12, 3)
SETS["m4_quarterly"] = (f"{CHECKS}/m4_quarterly.csv", "series", "quarter", "value", 4, 8, 3)
SETS["m4_weekly"] = (f"{CHECKS}/m4_weekly.csv", "series", "week", "value", 52, 13, 3)
SETS["weekly_checks"] = (f"{CHECKS}/weekly_checks.csv", "series", "week", "value", 52, 13, 3)
SCUM = ("ets", "ces", "arima", "dotm")


def forecasts(train, m, h):
    models = {"ets": AutoETS(season_length=m), "ces": AutoCES(season_length=m),
              "arima": AutoARIMA(season_length=m), "dotm": DynamicOptimizedTheta(season_length=m)}
    out = {}
    for name, model in models.items():
        try:
            out[name] = model.forecast(y=train, h=h)["mean"]
        except Exception:  # a fit that fails counts as ETS's forecast, so the median stays of four
            out[name] = out["ets"]
    out["scum"] = np.median([out[k] for k in SCUM], axis=0)
    out["mean of ets and ces"] = (out["ets"] + out["ces"]) / 2
    out["median without ces"] = np.median([out[k] for k in ("ets", "arima", "dotm")], axis=0)
    return out


def run(path, series_column, time_column, value_column, m, h, origins):
    rows = []
    for key, train, test, scale in rolling_origins(path, series_column, time_column, value_column, m, h, origins):
        if len(train) >= 2 * m + 2:
            rows.append({"series": key, **{k: np.mean(np.abs(test - f)) / scale for k, f in forecasts(train, m, h).items()}})
    per = pd.DataFrame(rows).groupby("series").mean()
    print(f"{os.path.basename(path)}: {len(per)} series")
    print("mean", per.mean().round(3).to_dict())


if __name__ == "__main__":
    run(*SETS[sys.argv[1]])

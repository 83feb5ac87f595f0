"""What the demand's own past can tell of elecdemand's scored days (benchmarks/RESULTS.md, issue
12, session 34): the daily mean demand, highest temperature and workday flag of the last three
weeks of 2014, then, on the run's five windows (the last five days of 48 half-hours, MASE at the
in-sample season-48 scale), seasonal naive and a weekly profile of the last 2, 4 or 8 weeks
scaled by the level of the last 1, 2, 3 or 7 days (fully, or half way). Analysis, not part of
the product or of CI.

    VENV/bin/python elecdemand_days.py
"""

import os

import numpy as np
import pandas as pd

DATASETS = os.environ.get("DATASETS", os.path.join(os.path.dirname(__file__), "../../../shared/datasets"))
frame = pd.read_csv(os.path.join(DATASETS, "elecdemand_vic_2014.csv"))
y = frame.demand_gw.values
H, WEEK = 48, 336
origins = [len(y) - H * k for k in range(5, 0, -1)]

local_day = pd.to_datetime(frame.ts.str[:10])
days = frame.assign(day=local_day).groupby("day").agg(demand=("demand_gw", "mean"), highest_c=("temperature_c", "max"),
                                                      workday=("workday", "first"))
days["weekday"] = days.index.day_name().str[:3]
print(days.tail(21).round(2).to_string())


def score(forecast):
    per_window = [np.mean(np.abs(y[o:o + H] - forecast(o))) / np.mean(np.abs(y[48:o] - y[:o - 48])) for o in origins]
    return np.mean(per_window), per_window


def profile_scaled_by_recent_level(weeks, recent_days, gain):
    def forecast(o):
        profile = y[o - WEEK * weeks:o].reshape(weeks, WEEK).mean(0)  # phase i is the step o + i (mod a week)
        ratio = y[o - H * recent_days:o].mean() / profile[WEEK - H * recent_days:].mean()
        return profile[:H] * (1 + gain * (ratio - 1))
    return forecast


mean, windows = score(lambda o: y[o - H:o])
print(f"\nseasonal naive: {mean:.3f}  per day {' / '.join(f'{w:.2f}' for w in windows)}")
for weeks in (2, 4, 8):
    for recent in (1, 2, 3, 7):
        for gain in (0.5, 1.0):
            mean, windows = score(profile_scaled_by_recent_level(weeks, recent, gain))
            print(f"profile of {weeks} weeks, level of the last {recent} days × {gain}: {mean:.3f}  "
                  f"per day {' / '.join(f'{w:.2f}' for w in windows)}")

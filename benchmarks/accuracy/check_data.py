"""Other public data for checking the defaults (issue 12: a rule chosen on ../shared/datasets must
hold on data it was not tuned on): short monthly and quarterly series that ship inside two PyPI
packages, so no web download beyond pip is needed. Writes three panels (series, period, value):

  monthly_checks.csv    wineind (Australian wine sales, 1980-1994), co2 (Mauna Loa, monthly
                        means of statsmodels' weekly series, 1958-2001), elnino (sea surface
                        temperature, 1950-2010)
  quarterly_checks.csv  woolyrnq (Australian woollen yarn, 1965-1994), ausbeer (Australian beer,
                        1956-2008), austres (Australian residents, 1971-1993), realgdp and
                        unemp (US macro data, 1959-2009)
  weekly_checks.csv     co2 (Mauna Loa's weekly series, its last 780 weeks, 1987-2001: short
                        enough, under 1,000 observations, for the statistical challengers; the
                        only weekly series either package ships without a download)

  python check_data.py OUT_DIR PMDARIMA_WHEEL

pmdarima's loaders are read from its wheel (`pip download pmdarima --no-deps`) without
installing it; statsmodels comes with statsforecast."""

import importlib.util
import os
import sys
import types
import zipfile

import numpy as np
import pandas as pd
import statsmodels.api as sm


def pmdarima_loader(wheel, name, into):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(into, [n for n in z.namelist() if n.startswith("pmdarima/datasets/") and n.endswith(".py")])
    # The loaders need only numpy, pandas and the package's float type.
    for module, path in [("pmdarima", "pmdarima"), ("pmdarima.datasets", "pmdarima/datasets")]:
        package = types.ModuleType(module)
        package.__path__ = [os.path.join(into, path)]
        sys.modules[module] = package
    compat = types.ModuleType("pmdarima.compat")
    compat.DTYPE = np.float64
    sys.modules["pmdarima.compat"] = compat
    spec = importlib.util.spec_from_file_location(f"pmdarima.datasets.{name}", os.path.join(into, f"pmdarima/datasets/{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return np.asarray(getattr(module, f"load_{name}")(), dtype=float)


def panel(rows, start, freq, name, values):
    # ausbeer's last quarter is NaN in pmdarima's copy: a series ends at its last value.
    values = np.asarray(values, dtype=float)
    values = values[:np.flatnonzero(np.isfinite(values))[-1] + 1]
    for t, v in zip(pd.date_range(start, periods=len(values), freq=freq), values):
        rows.append((name, t.date().isoformat(), float(v)))


def main():
    out, wheel = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    scratch = os.path.join(out, "pmdarima")
    monthly, quarterly = [], []
    panel(monthly, "1980-01-01", "MS", "wineind", pmdarima_loader(wheel, "wineind", scratch))
    co2 = sm.datasets.co2.load_pandas().data["co2"].resample("MS").mean().interpolate()
    panel(monthly, co2.index[0], "MS", "co2", co2.values)
    elnino = sm.datasets.elnino.load_pandas().data
    panel(monthly, "1950-01-01", "MS", "elnino", elnino.drop(columns="YEAR").to_numpy().ravel())
    panel(quarterly, "1965-01-01", "QS", "woolyrnq", pmdarima_loader(wheel, "woolyrnq", scratch))
    panel(quarterly, "1956-01-01", "QS", "ausbeer", pmdarima_loader(wheel, "ausbeer", scratch))
    panel(quarterly, "1971-04-01", "QS", "austres", pmdarima_loader(wheel, "austres", scratch))
    macro = sm.datasets.macrodata.load_pandas().data
    panel(quarterly, "1959-01-01", "QS", "realgdp", macro.realgdp.values)
    panel(quarterly, "1959-01-01", "QS", "unemp", macro.unemp.values)
    weekly = []
    co2_weekly = sm.datasets.co2.load_pandas().data["co2"].interpolate().tail(780)
    panel(weekly, co2_weekly.index[0] + pd.Timedelta(days=2), "W-MON", "co2", co2_weekly.values)
    for file, rows, time in [("monthly_checks.csv", monthly, "month"), ("quarterly_checks.csv", quarterly, "quarter"),
                             ("weekly_checks.csv", weekly, "week")]:
        pd.DataFrame(rows, columns=["series", time, "value"]).to_csv(os.path.join(out, file), index=False)
        print(f"{file}: {len(rows)} rows")


if __name__ == "__main__":
    main()

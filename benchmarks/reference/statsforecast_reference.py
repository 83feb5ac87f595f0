"""Reference numbers for forecastd's Swift ETS, Theta and MSTL (Tests/ForecastingTests/StatsforecastReference.swift).

Fits statsforecast's AutoETS (model 'ZZZ'), ETS with fixed specifications and AutoTheta on the
shared data sets and writes their point forecasts, 80% intervals and chosen models, together
with the histories, as Swift test data; and scores AutoETS and AutoTheta on the accuracy
protocol of monthly_seven and aus_arrivals (rolling origins at the end, MASE with the in-sample
seasonal-naive scale). Only for generating reference numbers: never a dependency of forecastd
or of its tests.

    python3 -m venv /work/venv-stats && /work/venv-stats/bin/pip install statsforecast pandas
    /work/venv-stats/bin/python benchmarks/reference/statsforecast_reference.py \
        [--datasets ../shared/datasets] > Tests/ForecastingTests/StatsforecastReference.swift
"""

import argparse
import os
import warnings

import numpy as np
import pandas as pd
import statsforecast
from statsforecast.ets import ets_f, forecast_ets
from statsforecast.models import MSTL, AutoETS
from statsforecast.mstl import mstl
from statsforecast.theta import auto_theta, forecast_theta

warnings.filterwarnings("ignore")
LEVEL = 80


def series_sets(d):
    """(set name, season, horizon, [(key, values)])"""
    air = pd.read_csv(os.path.join(d, "airpassengers.csv")).passengers.astype(float).values
    m7 = pd.read_csv(os.path.join(d, "monthly_seven.csv"))
    aus = pd.read_csv(os.path.join(d, "aus_arrivals_quarterly.csv"))
    sp = pd.read_csv(os.path.join(d, "sp500_daily_1950_2015.csv")).sort_values("date")
    # A non-seasonal series: the S&P 500's monthly mean close, last 120 months.
    sp["month"] = sp.date.str[:7]
    sp_monthly = sp.groupby("month").close.mean().values[-120:].astype(float)
    return [
        ("airpassengers", 12, 12, [("airpassengers", air)]),
        ("monthly_seven", 12, 12, [(k, g.sort_values("month").value.astype(float).values)
                                   for k, g in m7.groupby("series")]),
        ("aus_arrivals", 4, 8, [(k, g.sort_values("quarter").arrivals.astype(float).values)
                                for k, g in aus.groupby("origin")]),
        ("nonseasonal", 1, 12, [("sp500_monthly_mean", sp_monthly), ("airpassengers_m1", air)]),
    ]


def book_variance(fit, h):
    """The forecast variances of Hyndman et al. (2008, ch. 6) and forecast::ets for a fitted
    statsforecast ETS model, written out here because statsforecast 2.1's own differ: its
    additive-error seasonal formulas take floor((H - 1)/m) of the whole horizon H for every
    step, its MAA uses c_j = alpha*beta*j + gamma*d_j, and its class-3 recursion never moves
    the mean matrix on. Class 1: sigma2 (1 + sum_{j<h} c_j^2); class 2: the theta_h
    recursion; class 3: forecast::ets's `class3`."""
    e, t, s, d = fit["components"]
    alpha, beta, gamma, phi = [0.0 if np.isnan(v) else v for v in fit["par"][:4]]
    beta = beta if t != "N" else 0.0
    gamma = gamma if s != "N" else 0.0
    phi = phi if d == "D" else 1.0
    m, sigma2 = fit["m"], fit["sigma2"]
    c = np.array([alpha + beta * sum(phi ** i for i in range(1, j + 1))
                  + (gamma if s != "N" and j % m == 0 else 0.0) for j in range(1, h)])
    if e == "A":
        return sigma2 * np.concatenate([[1.0], 1 + np.cumsum(c ** 2)])
    mu = forecast_ets(fit, h=h)["mean"]
    if s != "M":
        theta = []
        for k in range(h):
            theta.append(mu[k] ** 2 + sigma2 * sum(c[j] ** 2 * theta[k - 1 - j] for j in range(k)))
        return (1 + sigma2) * np.array(theta) - mu ** 2
    last = fit["states"][-1]
    p = 1 + (t != "N")
    H1 = np.ones((1, p))
    H2 = np.zeros((1, m)); H2[0, m - 1] = 1
    F1 = np.array([[1.0]]) if p == 1 else np.array([[1, 1], [0, phi]])
    G1 = np.array([[alpha]]) if p == 1 else np.array([[alpha, alpha], [beta, beta]])
    F2 = np.zeros((m, m)); F2[0, m - 1] = 1; F2[1:, :m - 1] = np.eye(m - 1)
    G2 = np.zeros((m, m)); G2[0, m - 1] = gamma
    Mh = np.outer(last[:p], last[p:p + m])
    Vh = np.zeros((p * m, p * m))
    H21, F21, G21 = np.kron(H2, H1), np.kron(F2, F1), np.kron(G2, G1)
    K = np.kron(G2, F1) + np.kron(F2, G1)
    var = []
    for _ in range(h):
        mui = (H1 @ Mh @ H2.T).item()
        var.append((1 + sigma2) * (H21 @ Vh @ H21.T).item() + sigma2 * mui ** 2)
        v = Mh.flatten(order="F")[:, None]
        Vh = F21 @ Vh @ F21.T + sigma2 * (F21 @ Vh @ G21.T + G21 @ Vh @ F21.T + K @ (Vh + v @ v.T) @ K.T
                                          + sigma2 * G21 @ (3 * Vh + 2 * v @ v.T) @ G21.T)
        Mh = F1 @ Mh @ F2.T + G1 @ Mh @ G2.T * sigma2
    return np.array(var)


Z80 = 1.2815515655446004


def mstl_sets(d):
    """(key, periods, horizon, values): four weeks of half-hourly demand ending the day before
    the data set's last, and of hourly temperature at JFK (gaps interpolated, as the accuracy
    benchmark's peers see them)."""
    e = pd.read_csv(os.path.join(d, "elecdemand_vic_2014.csv"))
    e["ts"] = pd.to_datetime(e.ts, utc=True)
    demand = e.set_index("ts").demand_gw.resample("30min").mean().interpolate().values
    w = pd.read_csv(os.path.join(d, "weather_nyc_2013.csv"))
    w["ts"] = pd.to_datetime(w.ts, utc=True)
    temp = w[w.station == "JFK"].set_index("ts").temp.resample("1h").mean().interpolate().values
    return [("elecdemand", [48, 336], 48, demand[-1392:-48]), ("weather_jfk_temp", [24, 168], 24, temp[-672:])]


def ets_case(y, m, h, spec):
    damped = None
    if len(spec) == 4:  # "AAdA": damped trend
        spec, damped = spec[0] + spec[1] + spec[3], True
    elif spec[1] != "Z":
        damped = False
    fit = ets_f(y, m=m, model=spec, damped=damped)
    f = forecast_ets(fit, h=h, level=[LEVEL])
    c = fit["components"]
    name = f"{c[0]}{c[1]}{'d' if c[3] == 'D' else ''}{c[2]}"
    sd = np.sqrt(np.maximum(book_variance(fit, h), 0))
    return name, f["mean"], f[f"lo-{LEVEL}"], f[f"hi-{LEVEL}"], f["mean"] - Z80 * sd, f["mean"] + Z80 * sd, fit["aicc"]


def theta_case(y, m, h):
    fit = auto_theta(y, m=m)
    f = forecast_theta(fit, h=h, level=[LEVEL])
    kind = fit["modeltype"]
    if fit.get("decompose", False):
        kind += "+" + fit["decomposition_type"]
    return kind, f["mean"], f[f"lo-{LEVEL}"], f[f"hi-{LEVEL}"]


def mase_protocol(values, m, h, origins):
    n = len(values)
    ets, theta = [], []
    for k in range(origins, 0, -1):
        i = n - k * h
        train, test = values[:i], values[i:i + h]
        scale = np.mean(np.abs(train[m:] - train[:-m]))
        fe = forecast_ets(ets_f(train, m=m, model="ZZZ"), h=h)["mean"]
        ft = forecast_theta(auto_theta(train, m=m), h=h)["mean"]
        ets.append(np.mean(np.abs(fe - test)) / scale)
        theta.append(np.mean(np.abs(ft - test)) / scale)
    return float(np.mean(ets)), float(np.mean(theta))


def swift_array(xs, per_line=8):
    items = [repr(float(x)) if np.isfinite(x) else ".nan" for x in xs]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[\n" + ",\n".join("            " + l for l in lines) + ",\n        ]"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--datasets", default=os.path.join(os.path.dirname(__file__), "../../../shared/datasets"))
    args = p.parse_args()
    out = []
    w = out.append
    w("// Generated by benchmarks/reference/statsforecast_reference.py: do not edit.")
    w(f"// statsforecast {statsforecast.__version__}, numpy {np.__version__}, pandas {pd.__version__}.")
    w("// Regenerate: /work/venv-stats/bin/python benchmarks/reference/statsforecast_reference.py \\")
    w("//     > Tests/ForecastingTests/StatsforecastReference.swift")
    w("// Histories from ../shared/datasets (airpassengers, monthly_seven, aus_arrivals_quarterly, the")
    w("// S&P 500's monthly mean close; for MSTL, elecdemand and JFK's hourly temperature); forecasts by")
    w("// statsforecast.ets.ets_f / forecast_ets and statsforecast.theta.auto_theta / forecast_theta,")
    w("// intervals at 80%; decompositions by statsforecast.mstl.mstl.")
    w("")
    w("struct ReferenceForecast {")
    w("    /// ETS as \"MAdM\" (error, trend, d if damped, season); Theta as \"OTM+multiplicative\".")
    w("    let model: String")
    w("    let mean: [Double]")
    w("    let lower80: [Double]")
    w("    let upper80: [Double]")
    w("    /// ETS only: the 80% interval with the book's variances (see `book_variance` in the script).")
    w("    var bookLower80: [Double]? = nil")
    w("    var bookUpper80: [Double]? = nil")
    w("    /// ETS only: statsforecast's AICc.")
    w("    var aicc: Double? = nil")
    w("}")
    w("")
    w("struct ReferenceCase {")
    w("    let set: String")
    w("    let key: String")
    w("    let season: Int")
    w("    let horizon: Int")
    w("    let history: [Double]")
    w("    let autoETS: ReferenceForecast")
    w("    /// ETS with a fixed specification (\"AAN\", \"AAdA\", \"MAM\", ...).")
    w("    let fixedETS: [String: ReferenceForecast]")
    w("    let autoTheta: ReferenceForecast")
    w("}")
    w("")
    w("/// statsforecast's AutoETS and AutoTheta MASE on the accuracy protocol (rolling origins at the end).")
    w("struct ReferenceMASE {")
    w("    let set: String")
    w("    let key: String")
    w("    let season: Int")
    w("    let horizon: Int")
    w("    let origins: Int")
    w("    let autoETS: Double")
    w("    let autoTheta: Double")
    w("}")
    w("")
    w("/// statsforecast's `mstl` (R's `forecast::mstl`) of a sub-daily series, and the forecast of")
    w("/// `MSTL(season_length: periods, trend_forecaster: AutoETS(model: \"ZZN\"))`.")
    w("struct ReferenceMSTL {")
    w("    let key: String")
    w("    let periods: [Int]")
    w("    let history: [Double]")
    w("    let trend: [Double]")
    w("    /// One component per period, in the order of `periods`.")
    w("    let seasonal: [[Double]]")
    w("    let forecast: [Double]")
    w("}")
    w("")
    w("enum StatsforecastReference {")
    w("    static let cases: [ReferenceCase] = [")
    mases = []
    for set_name, m, h, series in series_sets(args.datasets):
        for key, y in series:
            y = np.asarray(y, dtype=float)
            fixed = ["AAN", "AAdN", "MNN"] if m == 1 else ["AAN", "AAA", "AAdA", "MAM", "MNM"]
            def fc(name, mean, lo, hi, book_lo=None, book_hi=None, aicc=None):
                text = (f"ReferenceForecast(model: \"{name}\",\n            mean: {swift_array(mean)},\n"
                        f"            lower80: {swift_array(lo)},\n            upper80: {swift_array(hi)}")
                if book_lo is not None:
                    text += (f",\n            bookLower80: {swift_array(book_lo)},\n            bookUpper80: {swift_array(book_hi)},"
                             f"\n            aicc: {float(aicc)!r}")
                return text + ")"
            a = ets_case(y, m, h, "ZZZ")
            t = theta_case(y, m, h)
            w(f"        ReferenceCase(set: \"{set_name}\", key: \"{key}\", season: {m}, horizon: {h},")
            w(f"        history: {swift_array(y)},")
            w(f"        autoETS: {fc(*a)},")
            w("        fixedETS: [")
            for spec in fixed:
                if spec[0] == "M" and not (y.min() > 0):
                    continue
                r = ets_case(y, m, h, spec)
                w(f"            \"{spec}\": {fc(*r)},")
            w("        ],")
            w(f"        autoTheta: {fc(*t)}),")
            if set_name in ("monthly_seven", "aus_arrivals"):
                origins = 3
                e, th = mase_protocol(y, m, h, origins)
                mases.append((set_name, key, m, h, origins, e, th))
    w("    ]")
    w("")
    w("    static let mstl: [ReferenceMSTL] = [")
    for key, periods, h, y in mstl_sets(args.datasets):
        y = np.asarray(y, dtype=float)
        parts = mstl(y, periods)
        f = MSTL(season_length=periods, trend_forecaster=AutoETS(model="ZZN")).fit(y).predict(h)["mean"]
        seasonal = ",\n            ".join(swift_array(parts[f"seasonal{p}"].values) for p in periods)
        w(f"        ReferenceMSTL(key: \"{key}\", periods: {periods}, history: {swift_array(y)},")
        w(f"            trend: {swift_array(parts.trend.values)},")
        w(f"            seasonal: [{seasonal}],")
        w(f"            forecast: {swift_array(f)}),")
    w("    ]")
    w("")
    w("    static let mase: [ReferenceMASE] = [")
    for s, k, m, h, o, e, th in mases:
        w(f"        ReferenceMASE(set: \"{s}\", key: \"{k}\", season: {m}, horizon: {h}, origins: {o}, "
          f"autoETS: {e!r}, autoTheta: {th!r}),")
    w("    ]")
    w("}")
    print("\n".join(out))


if __name__ == "__main__":
    main()

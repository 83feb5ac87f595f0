"""Would ETS forecast short seasonal series better after a Box-Cox transform, or bagged?
(issue 12, session 26). A prototype on statsforecast's AutoETS, to decide whether either is worth
writing in Swift; analysis for choosing defaults, not part of the product. Per set and rule, the
mean over series of the held-out MASE at the last ORIGINS windows of HORIZON steps (the windows
guard_rules.sh scores), and the geometric mean of each series' ratio to AutoETS's:

  ets          AutoETS on the series
  boxcox       AutoETS on the Box-Cox transform (Guerrero's lambda), forecast transformed back
  log          AutoETS on the logarithm
  aicc choice  the better of ets and boxcox by AICc, boxcox's corrected by the transform's
               Jacobian, 2 (1 - lambda) sum(log y), so that both are likelihoods of y
  bagged       Bergmeir, Hyndman and Benitez (2016, IJF 32): Box-Cox, STL, a moving-block
               bootstrap of the remainder (blocks of two seasons), AutoETS on each of B series
               and on the series itself, the median forecast (B = 20 here; they used 100)

  python ets_transforms.py DATASETS_DIR CHECKS_DIR [GUARD_RULES_OUT] [SET ...]

CHECKS_DIR is run.sh's ACC_CHECKS (check_data.py and fresh_checks.py fill it); GUARD_RULES_OUT a
folder where guard_rules.sh wrote R's series (r_monthly.csv, r_quarterly.csv). Needs the venv of
run.sh (statsforecast, coreforecast, statsmodels)."""

import os
import sys
import warnings

import numpy as np
import pandas as pd
from coreforecast.scalers import boxcox, boxcox_lambda, inv_boxcox
from statsforecast.models import AutoETS
from statsmodels.nonparametric.smoothers_lowess import lowess
from statsmodels.tsa.seasonal import STL

warnings.filterwarnings("ignore")
BOOTSTRAPS = 20


def sets(data, checks, r_out):
    """(name, csv, series column, value column, season, horizon, origins), as guard_rules.sh."""
    return [("monthly_seven", f"{data}/monthly_seven.csv", "series", "value", 12, 12, 3),
            ("aus_arrivals", f"{data}/aus_arrivals_quarterly.csv", "origin", "arrivals", 4, 8, 3),
            ("airpassengers", f"{data}/airpassengers.csv", None, "passengers", 12, 12, 2),
            ("monthly_checks", f"{checks}/monthly_checks.csv", "series", "value", 12, 12, 3),
            ("quarterly_checks", f"{checks}/quarterly_checks.csv", "series", "value", 4, 8, 3),
            ("fresh_monthly", f"{checks}/fresh_monthly.csv", "series", "value", 12, 12, 3),
            ("fresh_quarterly", f"{checks}/fresh_quarterly.csv", "series", "value", 4, 8, 3),
            ("r_monthly", f"{r_out}/r_monthly.csv", "series", "value", 12, 12, 3),
            ("r_quarterly", f"{r_out}/r_quarterly.csv", "series", "value", 4, 8, 3)]


def ets(y, m, horizon):
    fitted = AutoETS(season_length=m).fit(y)
    return fitted, fitted.predict(horizon)["mean"]


def bootstraps(y, m, lam, rng):
    """Bergmeir et al.'s series: the Box-Cox scale's STL trend and season, plus the remainder
    resampled in blocks of two seasons (loess for a series shorter than two seasons)."""
    z = boxcox(y, lam)
    if len(y) >= 2 * m + 1:
        parts = STL(z, period=m, robust=True).fit()
        base, remainder = parts.trend + parts.seasonal, parts.resid
    else:
        base = lowess(z, np.arange(len(z)), frac=0.5, return_sorted=False)
        remainder = z - base
    block, n, out = 2 * m, len(y), []
    for _ in range(BOOTSTRAPS):
        starts = rng.integers(0, n - block + 1, size=n // block + 2)
        resampled = np.concatenate([remainder[s:s + block] for s in starts])
        offset = rng.integers(0, block)
        out.append(inv_boxcox(base + resampled[offset:offset + n], lam))
    return out


def forecasts(y, m, horizon, rng):
    fitted, plain = ets(y, m, horizon)
    if y.min() <= 0:
        return {"ets": plain, "boxcox": plain, "log": plain, "aicc choice": plain, "bagged": plain}
    lam = boxcox_lambda(y, method="guerrero", season_length=m)
    transformed, on_boxcox = ets(boxcox(y, lam), m, horizon)
    on_boxcox = inv_boxcox(on_boxcox, lam)
    corrected = transformed.model_["aicc"] + 2 * (1 - lam) * np.sum(np.log(y))
    bagged = [plain] + [ets(b, m, horizon)[1] for b in bootstraps(y, m, lam, rng)]
    return {"ets": plain, "boxcox": on_boxcox, "log": np.exp(ets(np.log(y), m, horizon)[1]),
            "aicc choice": on_boxcox if corrected < fitted.model_["aicc"] else plain,
            "bagged": np.median(np.array(bagged), axis=0)}


def main(data, checks, r_out, only):
    for name, path, series_column, value_column, m, horizon, origins in sets(data, checks, r_out):
        if (only and name not in only) or not os.path.exists(path):
            continue
        frame = pd.read_csv(path)
        groups = ([(k, g[value_column].to_numpy(float)) for k, g in frame.groupby(series_column)]
                  if series_column else [(name, frame[value_column].to_numpy(float))])
        rng, scores = np.random.default_rng(1), {}
        for key, y in groups:
            for o in range(origins):
                origin = len(y) - horizon * (origins - o)
                train, test = y[:origin], y[origin:origin + horizon]
                if len(train) < 2 * m + 2:
                    continue
                scale = np.mean(np.abs(train[m:] - train[:-m]))
                for rule, point in forecasts(train, m, horizon, rng).items():
                    scores.setdefault(rule, {}).setdefault(key, []).append(np.mean(np.abs(test - point)) / scale)
        keys = list(scores["ets"])
        print(f"== {name}: {len(keys)} series", flush=True)
        for rule, per_series in scores.items():
            means = {k: np.mean(v) for k, v in per_series.items()}
            ratio = np.exp(np.mean([np.log(means[k] / np.mean(scores["ets"][k])) for k in keys]))
            print(f"  {rule:12s} {np.mean(list(means.values())):.3f}   x{ratio:.3f} of ets", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], args[1], args[2] if len(args) > 2 else args[1], args[3:])

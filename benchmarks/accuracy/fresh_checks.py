"""Short series no rule of the guard was chosen on (issue 12, session 19), for guard_rules.sh:
the groups there were all used to choose some rule, so a rule is confirmed here first. Writes
two panels (series, period, value):

  fresh_monthly.csv    elec_equip (euro-area electrical equipment orders, 1995-2016; statsmodels)
  fresh_quarterly.csv  realcons, realinv, realdpi, cpi, m1, tbilrate (US macro data, 1959-2009),
                       danish_lrm, danish_lry (Danish money demand, 1974-1987), interest_R
                       (1972-1998; statsmodels), and, with Rscript, R's presidents (approval
                       ratings, 1945-1974, with gaps)

  python fresh_checks.py OUT_DIR      (statsmodels: the venv of run.sh)"""

import os
import subprocess
import sys

import pandas as pd
from statsmodels.datasets import danish_data, elec_equip, interest_inflation, macrodata


def quarter_start(year, quarter):
    return f"{int(year)}-{3 * int(quarter) - 2:02d}-01"


def main(out):
    os.makedirs(out, exist_ok=True)
    equipment = elec_equip.load_pandas().data
    pd.DataFrame({"series": "elec_equip", "month": equipment.index.strftime("%Y-%m-%d"),
                  "value": equipment.iloc[:, 0].to_numpy()}).to_csv(os.path.join(out, "fresh_monthly.csv"), index=False)
    rows = []
    macro = macrodata.load_pandas().data
    for column in ["realcons", "realinv", "realdpi", "cpi", "m1", "tbilrate"]:
        rows += [(column, quarter_start(r.year, r.quarter), r[column]) for _, r in macro.iterrows()]
    danish = danish_data.load_pandas().data
    for column in ["lrm", "lry"]:
        rows += [(f"danish_{column}", pd.Timestamp(t).strftime("%Y-%m-%d"), v) for t, v in zip(danish.index, danish[column])]
    rates = interest_inflation.load_pandas().data
    rows += [("interest_R", quarter_start(r.year, r.quarter), r["R"]) for _, r in rates.iterrows()]
    try:
        text = subprocess.run(["Rscript", "-e", "p <- presidents; ok <- !is.na(p); cat(sprintf('presidents,%d-%02d-01,%s\\n', "
                               "floor(time(p)[ok] + 1e-6), 3 * cycle(p)[ok] - 2, p[ok]), sep = '')"],
                              capture_output=True, text=True, check=True).stdout
        rows += [tuple(line.split(",")) for line in text.splitlines() if line]
    except (OSError, subprocess.CalledProcessError):
        print("no Rscript: fresh_quarterly.csv without R's presidents")
    pd.DataFrame(rows, columns=["series", "quarter", "value"]).to_csv(os.path.join(out, "fresh_quarterly.csv"), index=False)


if __name__ == "__main__":
    main(sys.argv[1])

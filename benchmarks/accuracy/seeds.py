"""Tabulates accuracy runs of the same sets at different seeds (seeds.sh writes them): per data
set, forecastd's MASE at each seed, the mean and range over seeds, and at how many seeds each
target holds, the target in the results (issue 4's, or issue 12's for its sets) and issue 12's
"no set gets worse" limits where they differ. Needs only the standard library.

    python3 seeds.py OUT/seed-1.json OUT/seed-2.json ...
"""

import json
import re
import statistics
import sys

# Issue 12's limits for the sets it names ("no set gets worse than today", and its targets).
ISSUE_12 = {"weather": 0.69, "elecdemand": 0.50, "airpassengers": 0.88, "sp500": 1.83,
            "monthly_seven": 1.19, "aus_arrivals": 1.02}


def set_figures(path):
    """{set: (MASE, the results' target)} of one run: the mean over the set's series."""
    run = json.load(open(path))
    return {r["name"]: (statistics.fmean(s["forecastd"] for s in r["series"].values()), r["target"])
            for r in run["results"]}


def seed_of(path):
    """The seed in a seeds.sh file name (seed-N.json), so that seed 10 comes after seed 9."""
    found = re.search(r"seed-(\d+)", path)
    return int(found.group(1)) if found else 0


def main(paths):
    runs = [set_figures(p) for p in sorted(paths, key=seed_of)]
    names = [n for n in runs[0] if all(n in r for r in runs)]
    print(f"| data set | MASE at seeds 1–{len(runs)} | mean | range | target: seeds meeting it | issue 12's limit: seeds meeting it |")
    print("| --- | --- | ---: | --- | --- | --- |")
    for name in names:
        values = [r[name][0] for r in runs]
        target = runs[0][name][1]
        limit = ISSUE_12.get(name)
        met = lambda bound: "" if bound is None else f"≤ {bound}: {sum(v <= bound + 1e-12 for v in values)}/{len(values)}"
        print(f"| {name} | {' / '.join(f'{v:.3f}' for v in values)} | {statistics.fmean(values):.3f} | "
              f"{min(values):.3f}–{max(values):.3f} | {met(target)} | {'(the same)' if limit is not None and limit == target else met(limit)} |")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Tabulates accuracy runs of the same sets at different seeds (seeds.sh writes them): per data
set, forecastd's MASE at each seed, the mean and range over seeds, and at how many seeds each
target holds, the target in the results (issue 4's, or issue 12's for its sets) and issue 12's
"no set gets worse" limits where they differ. Needs only the standard library.

    python3 seeds.py OUT/seed-1.json OUT/seed-2.json ...
    python seeds.py --results benchmarks/RESULTS.md --command CMD results.json OUT/seed-2.json ...

With --results (run.sh's run of record does this; needs the venv of run.sh) the table, and a line
judging each target on the mean over the seeds, become the generated part of the section
"Forecast accuracy over seeds" of that file; a file not named seed-N (run.sh's results.json) is seed 1.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time

# Issue 12's limits for the sets it names ("no set gets worse than today", and its targets).
ISSUE_12 = {"weather": 0.69, "elecdemand": 0.50, "airpassengers": 0.88, "sp500": 1.83,
            "monthly_seven": 1.19, "aus_arrivals": 1.02}


def set_figures(path):
    """{set: (MASE, the results' target)} of one run: the mean over the set's series."""
    run = json.load(open(path))
    return {r["name"]: (statistics.fmean(s["forecastd"] for s in r["series"].values()), r["target"])
            for r in run["results"]}


def seed_of(path):
    """The seed in a seeds.sh file name (seed-N.json), so that seed 10 comes after seed 9; 0 for
    another name, which sorts first."""
    found = re.search(r"seed-(\d+)", path)
    return int(found.group(1)) if found else 0


def meets(value, bound):
    return value <= bound + 1e-12


def table(runs):
    """The markdown lines of the table, and per set (mean, target, issue 12's limit)."""
    names = [n for n in runs[0] if all(n in r for r in runs)]
    lines = [f"| data set | MASE at seeds 1–{len(runs)} | mean | range | target: seeds meeting it | issue 12's limit: seeds meeting it |",
             "| --- | --- | ---: | --- | --- | --- |"]
    means = {}
    for name in names:
        values = [r[name][0] for r in runs]
        target = runs[0][name][1]
        limit = ISSUE_12.get(name)
        met = lambda bound: "" if bound is None else f"≤ {bound}: {sum(meets(v, bound) for v in values)}/{len(values)}"
        lines.append(f"| {name} | {' / '.join(f'{v:.3f}' for v in values)} | {statistics.fmean(values):.3f} | "
                     f"{min(values):.3f}–{max(values):.3f} | {met(target)} | {'(the same)' if limit is not None and limit == target else met(limit)} |")
        means[name] = (statistics.fmean(values), target, limit)
    return lines, means


def verdict(means):
    """Each target and limit judged on the mean over the seeds."""
    parts = []
    for name, (mean, target, limit) in means.items():
        bounds = [b for b in (target, limit) if b is not None]
        if bounds:
            parts.append(f"{name} {mean:.3f}: " + ", ".join(f"≤ {b} {'met' if meets(mean, b) else 'not met'}"
                                                            for b in sorted(set(bounds), reverse=True)))
    return "Targets on the mean over the seeds (issue 4's, then issue 12's where it differs): " + "; ".join(parts) + "."


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--results", help="RESULTS.md: write the section \"Forecast accuracy over seeds\"")
    ap.add_argument("--command", default="benchmarks/accuracy/run.sh")
    a = ap.parse_args(argv)
    paths = sorted(a.paths, key=seed_of)
    lines, means = table([set_figures(p) for p in paths])
    print("\n".join(lines))
    if a.results:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import common
        body = [f"The run of record (the next section) is seed 1 of the networks (`[jobs.model] seed`). On the long sets and "
                f"on the issues' own the seed alone moves a figure by more than most settings do (issue 12, "
                f"session 29), so the run of record runs them at seeds 2–{len(paths)} as well (`seeds.sh`, each seed "
                f"a fresh database; the peers do not depend on the seed), and a target counts as met when the "
                f"mean over the seeds meets it.", "", "```sh", a.command, "```", "",
                f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, the same build as the run of record.", ""]
        common.write_section(a.results, "Forecast accuracy over seeds", "\n".join(body + lines + ["", verdict(means)]))


if __name__ == "__main__":
    main(sys.argv[1:])

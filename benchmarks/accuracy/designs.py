"""The three network designs of issue 13 side by side: the dense head (forking sequences), the
recurrent decoder (encoder-decoder) and Jordan output feedback, from the runs of run.sh with
ACC_DESIGN=dense, recurrent and feedback (results-<design>.json). Writes the subsection
"Issue 13: dense head, encoder-decoder and output feedback side by side" of RESULTS.md's
"Forecast accuracy" section. Run by designs.sh; on its own:

    python3 benchmarks/accuracy/designs.py [--partial] [--no-write]
"""

import argparse
import json
import math
import os

import common as C

DESIGNS = ["dense", "recurrent", "feedback"]
NAMES = {"dense": "dense head", "recurrent": "recurrent decoder", "feedback": "output feedback"}
NETWORK_CELLS = {"lstm", "gru", "rnn"}
HEADING = "Issue 13: dense head, encoder–decoder and output feedback side by side"


def mean(xs):
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return sum(xs) / len(xs) if xs else float("nan")


def fmt(x, d=3):
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def summary(result):
    """Per data set: the published forecast's MASE (mean over series), the network's own backtest
    MASE on the guard's windows (whatever was published), the origins where the network (alone
    or combined) was published, and seconds per origin."""
    series = result["series"]
    published = mean([s["forecastd"] for s in series.values()])
    network, served, origins = [], 0, 0
    for windows in result["windows"].values():
        for w in windows:
            origins += 1
            cell = w["cell"] or ""
            served += cell.split("+")[0] in NETWORK_CELLS
            for m in w["models"]:
                if m["cell"] in NETWORK_CELLS and m.get("backtest_mase") not in (None, ""):
                    network.append(float(m["backtest_mase"]))
    runs = result["runs"]
    wall = sum(r["wall_seconds"] for r in runs) / result["origins"]
    model = sum(sum(s["model_train_seconds"]) for s in series.values()) / result["origins"]
    return {"published": published, "network": mean(network), "served": served, "windows": origins,
            "wall": wall, "model": model, "series": len(series)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--partial", action="store_true", help="read results-<design>-partial.json (a subset of data sets)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    runs = {}
    for d in DESIGNS:
        path = os.path.join(here, f"results-{d}{'-partial' if a.partial else ''}.json")
        if os.path.exists(path):
            runs[d] = json.load(open(path))
    missing = [d for d in DESIGNS if d not in runs]
    if missing:
        raise SystemExit(f"no results for {', '.join(missing)}: run ACC_DESIGN=<design> benchmarks/accuracy/run.sh first")
    names = [r["name"] for r in runs["dense"]["results"]]
    by = {d: {r["name"]: summary(r) for r in runs[d]["results"]} for d in DESIGNS}
    names = [n for n in names if all(n in by[d] for d in DESIGNS)]

    out = []
    out.append("The same rolling origins, seeds (1), epochs and every other setting as the section above, run three times: "
               "every job with `[jobs.model] decoder = \"dense\"` (the default), with `decoder = \"recurrent\"` (the "
               "encoder–decoder: a decoder of the job's cell and hidden size started from the encoder's state, one step "
               "per horizon step, reading its previous median and the step's calendar), and with `feedback = \"output\"` "
               "(Jordan: the previous step's median fed back as an input). Both new designs train on the truth in the "
               "first epoch and on a linearly rising share of their own forecasts, half by the last. **Published** is "
               "what forecastd wrote (whatever won its guard: the network, a combination or a baseline), scored on the "
               "held-out horizons; **network** is the network's own backtest MASE on the guard's windows before the "
               "origin (`model_metrics`), whether or not it was published; **served** counts the origins (× series) "
               "where the network, alone or combined, was published. Seconds: the `forecastd train` commands per "
               "origin (all series of the data set, reading and writing included) and the sum of `models.train_seconds`.")
    out.append("")
    out.append("```sh")
    out.append("VENV=/work/venv-stats benchmarks/accuracy/designs.sh" + (" <data sets>" if a.partial else ""))
    out.append("```")
    out.append("")
    for d in DESIGNS:
        m = runs[d]["meta"]
        out.append(f"- {NAMES[d]}: `{m['command']}`, {m['date']}, {m['version']} built from {m['commit']}; "
                   f"load average before/after {m['load_before']} / {m['load_after']}.")
    out.append("")
    head = "| data set | series | " + " | ".join(f"published MASE: {NAMES[d]}" for d in DESIGNS) + " | " \
        + " | ".join(f"network MASE: {NAMES[d]}" for d in DESIGNS) + " | served (d / r / f) | " \
        + "train s / origin (d / r / f) | model train_seconds / origin (d / r / f) |"
    out.append(head)
    out.append("| --- | ---: | " + " | ".join(["---:"] * 6) + " | ---: | ---: | ---: |")
    wins = {d: 0 for d in DESIGNS}
    for n in names:
        s = {d: by[d][n] for d in DESIGNS}
        best = min(DESIGNS, key=lambda d: s[d]["published"])
        wins[best] += 1
        bestnet = min(DESIGNS, key=lambda d: s[d]["network"] if not math.isnan(s[d]["network"]) else float("inf"))
        pub = [("**" + fmt(s[d]["published"]) + "**") if d == best else fmt(s[d]["published"]) for d in DESIGNS]
        net = [("**" + fmt(s[d]["network"]) + "**") if d == bestnet else fmt(s[d]["network"]) for d in DESIGNS]
        out.append(f"| {n} | {s['dense']['series']} | " + " | ".join(pub) + " | " + " | ".join(net) + " | "
                   + " / ".join(f"{s[d]['served']}" for d in DESIGNS) + f" of {s['dense']['windows']} | "
                   + " / ".join(fmt(s[d]["wall"], 1) for d in DESIGNS) + " | "
                   + " / ".join(fmt(s[d]["model"], 1) for d in DESIGNS) + " |")
    means = {d: mean([by[d][n]["published"] for n in names]) for d in DESIGNS}
    nets = {d: mean([by[d][n]["network"] for n in names]) for d in DESIGNS}
    walls = {d: sum(by[d][n]["wall"] for n in names) for d in DESIGNS}
    out.append(f"| **mean of {len(names)} data sets** | | " + " | ".join(fmt(means[d]) for d in DESIGNS) + " | "
               + " | ".join(fmt(nets[d]) for d in DESIGNS) + " | | "
               + " / ".join(fmt(walls[d], 1) for d in DESIGNS) + " (sum) | |")
    out.append("")
    out.append("Lowest published MASE (bold): " + ", ".join(f"{NAMES[d]} on {wins[d]}" for d in DESIGNS) + f" of {len(names)} data sets.")
    note = os.path.join(here, "designs_note.md")
    if os.path.exists(note):
        out.append("")
        out.append(open(note).read().strip())
    md = "\n".join(out) + "\n"
    print(md)
    if not a.no_write:
        C.write_subsection(os.path.join(here, "..", "RESULTS.md"), "Forecast accuracy", HEADING, md)
        print(f"==> wrote the subsection \"{HEADING}\" of benchmarks/RESULTS.md")


if __name__ == "__main__":
    main()

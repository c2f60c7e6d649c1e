#!/usr/bin/env python3
"""How many real labels does synthetic pre-training save? One plot per target of the few-real
protocol (run.py --fewreal): YOLO AP on the held-out test photos against the number K of
labelled pool photos it was trained on, from scratch (real only) and after pre-training on the
learned synthetic set (synthetic + fine-tuning; K = 0 is the synthetic set alone); the raw and
hand synthetic sets as dashed lines.

    python3 bench/simreal/curves.py [WORK/results.json] [--out bench/simreal/curves] [--metric AP]

Writes OUT/<target>.png and prints a markdown table (one row per target, AP at each K).
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def series(entry, metric):
    few = entry.get("fewreal", {})
    ks = few.get("k", {})
    conds = entry.get("conditions", {})
    synth = {c: (conds.get(c, {}).get("yolo") or {}).get(metric) for c in ("raw", "hand", "learned")}
    real, ft = [], []
    for name in ("5", "10", "all"):
        if name not in ks:
            continue
        k = ks[name]
        if f"real_{name}" in few:
            real.append((k, few[f"real_{name}"][metric]))
        if f"ft_{name}" in few:
            ft.append((k, few[f"ft_{name}"][metric]))
    if synth["learned"] is not None:
        ft.insert(0, (0, synth["learned"]))
    return synth, real, ft


def handed(entry):
    """What train handed over: "learned", or "raw" where it handed over the identity."""
    conds = entry.get("conditions", {})
    if "learned" not in conds:
        return "–"
    learned = conds["learned"].get("yolo") or {}
    return learned.get("same_as") or "learned"


def plot(target, entry, metric, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    synth, real, ft = series(entry, metric)
    fig, ax = plt.subplots(figsize=(4.8, 3.4), dpi=100)
    if real:
        ax.plot(*zip(*real), "o-", color="#444444", label="real photos only")
    if ft:
        ax.plot(*zip(*ft), "o-", color="#c0392b", label=f"{handed(entry)} synthetic + fine-tuning")
    for c, style in (("raw", (0, (4, 3))), ("hand", (0, (1, 2)))):
        if synth[c] is not None:
            ax.axhline(synth[c], color="#2471a3", linestyle=style, linewidth=1,
                       label=f"{c} synthetic only")
    split = entry.get("split", {})
    ax.set_title(f"{target}: YOLO {metric} on {len(split.get('test', []))} held-out photos",
                 fontsize=10)
    ax.set_xlabel("labelled real photos used (K)")
    ax.set_ylabel(metric)
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="?",
                    default=os.path.join(REPO, "output", "simreal", "results.json"))
    ap.add_argument("--out", default=os.path.join(HERE, "curves"))
    ap.add_argument("--metric", default="AP", choices=["AP", "AP50"])
    args = ap.parse_args()
    with open(args.results) as f:
        results = json.load(f)["targets"]
    os.makedirs(args.out, exist_ok=True)
    print(f"YOLO {args.metric} on the held-out photos; K = 0 is the synthetic set alone\n")
    print("| target (pool / test) | K = 5 / 10 / all | real only | synthetic (K = 0) + "
          "fine-tuning | pre-trained on |")
    print("| --- | --- | --- | --- | --- |")
    for t, entry in results.items():
        if not entry.get("fewreal"):
            continue
        synth, real, ft = series(entry, args.metric)
        real_d, ft_d = dict(real), dict(ft)
        ks = sorted(k for k in set(real_d) | set(ft_d) if k > 0)
        cell = lambda d, k: "–" if k not in d else f"{d[k]:.2f}"  # noqa: E731
        split = entry.get("split", {})
        print(f"| {t} ({len(split.get('pool', []))} / {len(split.get('test', []))}) "
              f"| {' / '.join(map(str, ks))} | {' / '.join(cell(real_d, k) for k in ks)} "
              f"| {cell(ft_d, 0)}; {' / '.join(cell(ft_d, k) for k in ks)} | {handed(entry)} |")
        plot(t, entry, args.metric, os.path.join(args.out, f"{t}.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

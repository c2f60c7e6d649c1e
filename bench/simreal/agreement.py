#!/usr/bin/env python3
"""Do rendergan's own figures rank synthetic sets the way a detector does?

    python3 bench/simreal/agreement.py [WORK/results.json] [--detector yolo|hog] [--metric AP]
        [--tol 0.02] [--noise WORK/noise.json] [--json OUT]

Over every target and every pair of its synthetic conditions (raw, hand, learned, forced) whose
detector AP differs by more than --tol (closer pairs are the detector's own noise and count for
nothing), a figure AGREES when it ranks the pair as the detector does. Printed per figure: the
pairs it could rank, the share it ranked right (pairwise agreement), and Kendall's tau over those
pairs ((agree - disagree) / pairs). A figure that gives both sets the same value (saturated, or
"cannot rank") counts as a disagreement, so a figure cannot score by abstaining.

train's verdict is a figure of one pair per target, raw against what learning made: "helped"
says learned > raw; "did not help" says the weights it refused (the forced set) are no better
than raw. For a verdict of "helped" the forced set does not exist (it would be the learned set).

With --noise (noise.py's file), a set's YOLO AP is the mean over every seed measured for it (seed
0 is run.py's), which shrinks the detector's own noise by the square root of the seeds.
"""
import argparse
import itertools
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# name -> (how to read it from a condition's record, +1 if higher is better, -1 if lower)
FIGURES = {
    "eval c2st": (lambda r: r.get("eval", {}).get("c2st"), -1),
    "eval kid": (lambda r: r.get("eval", {}).get("kid"), -1),
    "eval coverage": (lambda r: r.get("eval", {}).get("coverage"), +1),
    "eval precision": (lambda r: r.get("eval", {}).get("precision"), +1),
    "eval recall": (lambda r: r.get("eval", {}).get("recall"), +1),
    "eval density": (lambda r: r.get("eval", {}).get("density"), +1),
    "eval detector": (lambda r: ((r.get("eval") or {}).get("detector") or {}).get("score"), +1),
    # the probe's boxes scored on the labelled pool photos (eval --real-labels)
    "eval detector photo_ap50": (
        lambda r: ((r.get("eval") or {}).get("detector") or {}).get("photo_ap50"), +1),
    "eval detector photo_ap": (
        lambda r: ((r.get("eval") or {}).get("detector") or {}).get("photo_ap"), +1),
    # parts of the probe, to see which carries its ranking (chosen after the fact: a hint)
    "eval detector photo_heat": (
        lambda r: ((r.get("eval") or {}).get("detector") or {}).get("photo_heat"), -1),
    "eval detector photo_top": (
        lambda r: ((r.get("eval") or {}).get("detector") or {}).get("photo_top"), +1),
    "realism accuracy": (lambda r: r.get("realism", {}).get("accuracy"), -1),
    "realism loss": (lambda r: r.get("realism", {}).get("loss"), +1),
    "realism features": (lambda r: r.get("realism", {}).get("features", {}).get("accuracy"), -1),
}


def ap(rec, detector, metric):
    return (rec.get(detector) or {}).get(metric)


def helped(rec):
    training = (rec.get("verdict") or {}).get("training") or {}
    verdict = training.get("verdict") or {}
    return verdict.get("outcome") == "helped" if verdict else None


def seed_means(results, noise, detector, metric):
    """results with each set's AP replaced by its mean over the seeds of `noise` (YOLO's)."""
    if detector != "yolo":
        return results
    for t, entry in results.items():
        for c, rec in entry.get("conditions", {}).items():
            runs = (noise.get(t) or {}).get((rec.get(detector) or {}).get("same_as") or c)
            if not runs or rec.get(detector) is None:
                continue
            vals = [r[metric] for k, r in runs.items() if k != "set"]
            rec[detector] = {**rec[detector], metric: sum(vals) / len(vals), "seeds": len(vals)}
    return results


def pairs(results, detector, metric, tol):
    """(target, a, b, ap_a, ap_b, rec_a, rec_b) for every pair whose AP differs by > tol."""
    out = []
    for t, entry in sorted(results.items()):
        # a learned set the verdict handed back as the identity is the raw set itself: one set
        conds = {c: r for c, r in entry.get("conditions", {}).items()
                 if ap(r, detector, metric) is not None
                 and not (r.get(detector) or {}).get("same_as")}
        for a, b in itertools.combinations(sorted(conds), 2):
            pa, pb = ap(conds[a], detector, metric), ap(conds[b], detector, metric)
            if abs(pa - pb) > tol:
                out.append((t, a, b, pa, pb, conds[a], conds[b]))
    return out


def score_figures(ps, figures=FIGURES):
    rows = {}
    for name, (get, sign) in figures.items():
        agree = disagree = abstained = 0
        for _, _, _, pa, pb, ra, rb in ps:
            fa, fb = get(ra), get(rb)
            if fa is None or fb is None:
                abstained += 1
                continue
            if (fa - fb) * sign * (pa - pb) > 0:
                agree += 1
            else:
                disagree += 1
        n = agree + disagree
        if n or abstained:
            rows[name] = {"pairs": n, "agreement": agree / n if n else None,
                          "tau": (agree - disagree) / n if n else None, "cannot_rank": abstained}
    return rows


def score_verdict(results, detector, metric, tol):
    """train's verdict against the detector, one pair per target."""
    agree = disagree = 0
    detail = []
    for t, entry in sorted(results.items()):
        c = entry.get("conditions", {})
        raw, learned = c.get("raw"), c.get("learned")
        if not raw or not learned or ap(raw, detector, metric) is None:
            continue
        h = helped(learned)
        if h is None:
            continue
        other = learned if h else c.get("forced")
        if not other or ap(other, detector, metric) is None:
            continue
        gain = ap(other, detector, metric) - ap(raw, detector, metric)
        if abs(gain) <= tol:
            detail.append((t, "helped" if h else "did not help", gain, "tie"))
            continue
        ok = (gain > 0) == h
        agree += ok
        disagree += not ok
        detail.append((t, "helped" if h else "did not help", gain, "agrees" if ok else "wrong"))
    n = agree + disagree
    row = {"pairs": n, "agreement": agree / n, "tau": (agree - disagree) / n} if n else None
    return row, detail


def main():
    ap_ = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap_.add_argument("results", nargs="?",
                     default=os.path.join(REPO, "output", "simreal", "results.json"))
    ap_.add_argument("--detector", default="yolo", choices=["yolo", "hog"])
    ap_.add_argument("--metric", default="AP", choices=["AP", "AP50", "AP75"])
    ap_.add_argument("--tol", type=float, default=0.02,
                     help="AP differences up to this are ties (the detector's noise)")
    ap_.add_argument("--noise", help="noise.py's file: AP = the mean over its seeds")
    ap_.add_argument("--json", help="also write the figures here")
    args = ap_.parse_args()
    with open(args.results) as f:
        results = json.load(f)["targets"]
    if args.noise:
        with open(args.noise) as f:
            results = seed_means(results, json.load(f), args.detector, args.metric)
    ps = pairs(results, args.detector, args.metric, args.tol)
    rows = score_figures(ps)
    vrow, vdetail = score_verdict(results, args.detector, args.metric, args.tol)
    if vrow:
        rows["train verdict"] = vrow
    print(f"{len(ps)} pairs of sets over {len({p[0] for p in ps})} targets whose "
          f"{args.detector} {args.metric} differs by more than {args.tol}\n")
    print("| figure | pairs ranked | agreement | Kendall tau | cannot rank |")
    print("| --- | --- | --- | --- | --- |")
    def cell(v, fmt):
        return "—" if v is None else format(v, fmt)
    for name, r in sorted(rows.items(), key=lambda kv: -(kv[1]["agreement"] or -1)):
        print(f"| {name} | {r['pairs']} | {cell(r['agreement'], '.2f')} | {cell(r['tau'], '+.2f')} "
              f"| {r.get('cannot_rank', 0)} |")
    print("\ntrain's verdict, per target (gain = detector AP of what learning made - raw):")
    for t, v, gain, res in vdetail:
        print(f"  {t}: {v}, gain {gain:+.3f}: {res}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"pairs": [p[:5] for p in ps], "figures": rows,
                       "verdict": vdetail}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

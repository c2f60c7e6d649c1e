#!/usr/bin/env python3
"""How much of a YOLO AP difference is the detector's own noise? Retrains YOLO on a set that
run.py made, with other seeds (same data, same budget), and scores it on the same test photos.

    python3 bench/simreal/noise.py --targets boards,nuts --conditions raw [--seeds 1,2]
        [--work output/simreal] [--budget N]

Writes WORK/noise.json: per target and condition, the AP of each seed (seed 0 is run.py's), and
prints the spread. A seed's figure is kept for the set it was trained on: when run.py has made
the set anew (its manifest differs), the other seeds are trained again. The spread of AP over seeds on the same data is the tolerance below which
two sets' AP differences say nothing (agreement.py --tol).
"""
import argparse
import hashlib
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import yolo  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", required=True)
    ap.add_argument("--conditions", default="raw")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--work", default=os.path.join(REPO, "output", "simreal"))
    ap.add_argument("--budget", type=int,
                    help="YOLO budget (default: the one run.py trained the target's seed 0 with)")
    args = ap.parse_args()
    path = os.path.join(args.work, "noise.json")
    noise = {}
    if os.path.isfile(path):
        with open(path) as f:
            noise = json.load(f)
    with open(os.path.join(args.work, "results.json")) as f:
        results = json.load(f)["targets"]
    for t in args.targets.split(","):
        tdir = os.path.join(args.work, t)
        entry = results[t]
        budget = args.budget or entry.get("yolo_budget", yolo.BUDGET)
        for c in args.conditions.split(","):
            manifest = os.path.join(tdir, c, "manifest.jsonl")
            with open(manifest, "rb") as f:
                made = hashlib.sha256(f.read()).hexdigest()[:16]
            rec = noise.setdefault(t, {}).setdefault(c, {})
            if rec.get("set") != made:  # another set (or one from before sets were named)
                rec.clear()
                rec["set"] = made
            base = entry["conditions"][c]["yolo"]
            rec["0"] = {k: base[k] for k in ("AP", "AP50", "AP75")}
            for s in args.seeds.split(","):
                if s in rec:
                    continue
                wdir = os.path.join(tdir, "yolo_noise", f"{c}_seed{s}")
                weights, _ = yolo.train(wdir, [os.path.join(tdir, c)], None, None, budget,
                                        entry["yolo_imgsz"], log=print, seed=int(s),
                                        name="object")
                m, _ = yolo.score(weights, os.path.join(tdir, "gt_test.json"),
                                  os.path.join(tdir, "test"), imgsz=entry["yolo_imgsz"])
                rec[s] = {k: m[k] for k in ("AP", "AP50", "AP75")}
                with open(path, "w") as f:
                    json.dump(noise, f, indent=1)
            aps = [v["AP"] for k, v in rec.items() if k != "set"]
            print(f"{t}/{c}: AP over seeds {', '.join(f'{a:.3f}' for a in aps)}; "
                  f"spread (max - min) {max(aps) - min(aps):.3f}, "
                  f"std {statistics.pstdev(aps):.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Sim-to-real benchmark: does a detector trained only on rendergan's synthetic data find the
objects in real labelled photos, for plain renders (raw), a fixed hand-written photometric
pipeline (hand) and rendergan's learned augmentation (learned)?

    python3 bench/simreal/run.py [--targets blades,stuff,coins,sweets,boards] [--binary PATH]
        [--work DIR] [--steps N] [--conditions raw,hand,learned] [--reuse] [--reuse-run]

Per target and condition it trains the fixed HOG + linear SVM detector of detector.py on the
synthetic set and reports AP50 and AP (COCO 0.50:0.95) on the target's photos, plus
`rendergan realism` between the photos and the synthetic images. It prints a markdown table and
writes WORK/results.json (merged with an existing one, so a run of some conditions or targets
keeps the others' results).

Steps and their outputs, under WORK/<target>/:
  photos/            the target's real photos (unlabelled copy; what train and realism read)
  gt.json            the target's COCO labels (only its images and category)
  raw/               rendergan generate -c scenes/<t>.yaml
  hand/              hand.py applied to raw/
  run/, train.log    rendergan train --real photos/ (stdout and stderr in train.log)
  learned/           rendergan generate --augment run/
  <cond>.realism.json, <cond>.detector.json, <cond>.detections.json
Without --reuse every step of the chosen conditions runs again. With --reuse a step whose
output exists is skipped (delete a file or folder to redo that step). --reuse-run skips only
the training when run/generator.bpk exists (regenerate and re-evaluate the learned set).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import detector  # noqa: E402
import hand  # noqa: E402

TARGETS = ["blades", "stuff", "coins", "sweets", "boards"]
CONDITIONS = ["raw", "hand", "learned"]
BOARD_FILES = [f"left{n:02d}.jpg" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14)]


def target_sources(target, shared, cache):
    """(photo paths, COCO labels path, category name) of a target."""
    if target in ("blades", "stuff"):
        photo = {"blades": "pca_test1.jpg", "stuff": "stuff.jpg"}[target]
        cat = {"blades": "blade", "stuff": "object"}[target]
        return [os.path.join(shared, photo)], os.path.join(shared, "labels.json"), cat
    labels = os.path.join(HERE, "labels", f"{target}.json")
    if target == "coins":
        return [os.path.join(cache, "coins", "coins.png")], labels, "coin"
    if target == "sweets":
        return [os.path.join(cache, "sweets", "smarties.png")], labels, "sweet"
    return [os.path.join(cache, "boards", n) for n in BOARD_FILES], labels, "board"


def prepare_target(target, tdir, shared, cache):
    """Copy the photos into tdir/photos and write tdir/gt.json (only this target's images and
    category, category id kept)."""
    photos, labels, cat = target_sources(target, shared, cache)
    missing = [p for p in photos if not os.path.isfile(p)]
    if missing:
        hint = ("run bench/simreal/fetch.sh" if target not in ("blades", "stuff")
                else "pass --shared DIR")
        raise SystemExit(f"run.py: {target}: missing {missing[0]} ({hint})")
    pdir = os.path.join(tdir, "photos")
    os.makedirs(pdir, exist_ok=True)
    names = {os.path.basename(p) for p in photos}
    for old in os.listdir(pdir):
        if old not in names:
            os.remove(os.path.join(pdir, old))
    for p in photos:
        dst = os.path.join(pdir, os.path.basename(p))
        if not os.path.isfile(dst) or os.path.getsize(dst) != os.path.getsize(p):
            shutil.copyfile(p, dst)
    with open(labels) as f:
        data = json.load(f)
    cats = [c for c in data["categories"] if c["name"] == cat]
    assert len(cats) == 1, f"{labels}: expected one category {cat!r}"
    cid = cats[0]["id"]
    images = [im for im in data["images"] if im["file_name"] in names]
    assert len(images) == len(photos), f"{labels}: not every photo of {target} is labelled"
    ids = {im["id"] for im in images}
    gt = {
        "info": data.get("info", {}),
        "images": images,
        "annotations": [a for a in data["annotations"]
                        if a["image_id"] in ids and a["category_id"] == cid],
        "categories": cats,
    }
    with open(os.path.join(tdir, "gt.json"), "w") as f:
        json.dump(gt, f)
    n_boxes = sum(1 for a in gt["annotations"] if not a.get("iscrowd"))
    return pdir, os.path.join(tdir, "gt.json"), n_boxes


class Bench:
    def __init__(self, args):
        self.args = args
        self.binary = args.binary
        self.env = dict(os.environ)
        # keep rendergan on the cores asked for: burn's flex backend and the worker pool use
        # rayon, lavapipe (Mesa's software Vulkan) its own rasteriser threads
        self.env.setdefault("RAYON_NUM_THREADS", str(args.threads))
        self.env.setdefault("LP_NUM_THREADS", str(args.threads))
        self.env.setdefault("OMP_NUM_THREADS", "1")
        self.gen_threads = ["--threads", str(args.threads), "--render-threads",
                            str(min(args.threads, 2))]

    def log(self, msg):
        print(msg, file=sys.stderr, flush=True)

    def rg(self, argv, log_path=None):
        cmd = [self.binary] + argv
        self.log("  $ " + " ".join(cmd))
        t0 = time.time()
        proc = subprocess.run(cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if log_path:
            with open(log_path, "w") as f:
                f.write(proc.stdout)
        if proc.returncode != 0:
            tail = "\n".join(proc.stdout.splitlines()[-20:])
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
        return proc.stdout, time.time() - t0

    def skip(self, path):
        return self.args.reuse and os.path.exists(path)

    def dataset(self, target, cond, cfg, tdir, photos, timing):
        out = os.path.join(tdir, cond)
        done = os.path.join(out, "annotations")
        if cond == "raw":
            if not self.skip(done):
                _, timing["generate_s"] = self.rg(
                    ["generate", "-c", cfg, "-o", out, "--overwrite", "-q"] + self.gen_threads)
        elif cond == "hand":
            raw = os.path.join(tdir, "raw")
            if not os.path.isdir(os.path.join(raw, "annotations")):
                self.dataset(target, "raw", cfg, tdir, photos, {})
            if not self.skip(done):
                t0 = time.time()
                hand.apply(raw, out, seed=0)
                timing["hand_s"] = time.time() - t0
        else:
            run = os.path.join(tdir, "run")
            trained = os.path.isfile(os.path.join(run, "generator.bpk"))
            if not ((self.args.reuse or self.args.reuse_run) and trained):
                argv = ["train", "-c", cfg, "--real", photos, "-o", run, "--device", "cpu", "-q"]
                if self.args.steps:
                    argv += ["--steps", str(self.args.steps)]
                if os.path.isdir(run):
                    shutil.rmtree(run)
                _, timing["train_s"] = self.rg(argv, log_path=os.path.join(tdir, "train.log"))
                if os.path.exists(out):  # a new run makes the old learned set stale
                    shutil.rmtree(out)
            if not self.skip(done):
                _, timing["generate_s"] = self.rg(
                    ["generate", "-c", cfg, "--augment", run, "-o", out, "--overwrite", "-q"]
                    + self.gen_threads)
        return out

    def realism(self, tdir, cond, photos, crop):
        path = os.path.join(tdir, f"{cond}.realism.json")
        if self.skip(path):
            with open(path) as f:
                return json.load(f)
        # images/ rather than the dataset folder: its preview.png is no image of the set.
        # The geometry of training's probe: half of a training crop of the photos against half
        # of a whole image, at 32 px (a single photo holds many distinct patches, few crops)
        out, secs = self.rg(["realism", "--real", photos, "--images",
                             os.path.join(tdir, cond, "images"), "--crop", f"{crop / 2:g}",
                             "--images-crop", "0.5", "--res", "32"])
        lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
        if not lines:
            raise RuntimeError(f"rendergan realism printed no JSON line:\n{out}")
        res = json.loads(lines[-1])
        res["seconds"] = round(secs, 1)
        with open(path, "w") as f:
            json.dump(res, f)
        return res

    def detect(self, tdir, cond, gt, photos):
        path = os.path.join(tdir, f"{cond}.detector.json")
        if self.skip(path):
            with open(path) as f:
                return json.load(f)
        t0 = time.time()
        metrics, dets = detector.run(os.path.join(tdir, cond), gt, photos,
                                     log=lambda m: self.log(m))
        metrics["seconds"] = round(time.time() - t0, 1)
        with open(os.path.join(tdir, f"{cond}.detections.json"), "w") as f:
            json.dump(dets, f)
        with open(path, "w") as f:
            json.dump(metrics, f)
        return metrics


def real_crop_mid(cfg):
    with open(cfg) as f:
        data = yaml.safe_load(f)
    rc = (data.get("train") or {}).get("real_crop", {"uniform": [0.3, 0.8]})
    if isinstance(rc, (int, float)):
        return float(rc)
    if "uniform" in rc:
        a, b = rc["uniform"]
        return (a + b) / 2
    if "const" in rc:
        return float(rc["const"])
    raise SystemExit(f"{cfg}: train.real_crop: only a number, const or uniform is understood here")


def train_steps(cfg):
    with open(cfg) as f:
        return ((yaml.safe_load(f) or {}).get("train") or {}).get("steps")


def repo_state():
    """The checkout's commit and whether its tracked files differ from it."""
    def git(*a):
        p = subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"head": head, "tracked_changes": bool(dirty) if dirty is not None else None}


def train_verdict(tdir):
    path = os.path.join(tdir, "train.log")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return [ln.rstrip("\n") for ln in f if ln.startswith("rendergan:")]


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


def table(results, targets):
    rows = ["| target | AP50 raw / hand / learned | AP raw / hand / learned "
            "| realism raw / hand / learned |",
            "| --- | --- | --- | --- |"]
    for t in targets:
        r = results.get(t, {}).get("conditions", {})

        def cell(key, sub):
            return " / ".join(fmt((r.get(c, {}).get(key) or {}).get(sub), 2) for c in CONDITIONS)

        rows.append(f"| {t} | {cell('detector', 'AP50')} | {cell('detector', 'AP')} "
                    f"| {cell('realism', 'accuracy')} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "rendergan"))
    ap.add_argument("--work", default=os.path.join(REPO, "output", "simreal"))
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared", "data", "simreal"),
                    help="folder with pca_test1.jpg, stuff.jpg and labels.json")
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"),
                    help="where fetch.sh put the other targets' photos")
    ap.add_argument("--steps", type=int, help="rendergan train --steps (default: the config's)")
    ap.add_argument("--threads", type=int, default=1,
                    help="generate --threads and RAYON_NUM_THREADS for rendergan (default 1)")
    ap.add_argument("--reuse", action="store_true", help="skip every step whose output exists")
    ap.add_argument("--reuse-run", action="store_true",
                    help="skip training when WORK/<t>/run/generator.bpk exists")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    conds = [c for c in args.conditions.split(",") if c]
    for t in targets:
        if t not in TARGETS:
            ap.error(f"--targets: unknown target {t!r} (known: {', '.join(TARGETS)})")
    for c in conds:
        if c not in CONDITIONS:
            ap.error(f"--conditions: unknown condition {c!r} (known: {', '.join(CONDITIONS)})")
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        ap.error(f"--binary: {args.binary} is not an executable (build it or pass --binary)")
    if any(t not in ("blades", "stuff") for t in targets):
        if not os.path.isdir(os.path.join(args.cache, "boards")):
            subprocess.run(["bash", os.path.join(HERE, "fetch.sh"), args.cache], check=True)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    res_path = os.path.join(work, "results.json")
    results = {}
    if os.path.isfile(res_path):
        with open(res_path) as f:
            results = json.load(f).get("targets", {})

    bench = Bench(args)
    version = subprocess.run([args.binary, "--version"], capture_output=True, text=True).stdout
    for t in targets:
        t0 = time.time()
        tdir = os.path.join(work, t)
        os.makedirs(tdir, exist_ok=True)
        cfg = os.path.join(HERE, "scenes", f"{t}.yaml")
        photos, gt, n_boxes = prepare_target(t, tdir, os.path.abspath(args.shared),
                                             os.path.abspath(args.cache))
        crop = real_crop_mid(cfg)
        entry = results.setdefault(t, {})
        entry.update({"config": os.path.relpath(cfg, REPO), "photos": len(os.listdir(photos)),
                      "boxes": n_boxes, "realism_crop": crop})
        entry.setdefault("conditions", {})
        bench.log(f"{t}: {entry['photos']} photo(s), {n_boxes} boxes, realism crop {crop:g}")
        for c in conds:
            ct = time.time()
            timing = {}
            bench.log(f" {t}/{c}: dataset")
            bench.dataset(t, c, cfg, tdir, photos, timing)
            bench.log(f" {t}/{c}: realism")
            real = bench.realism(tdir, c, photos, crop)
            bench.log(f" {t}/{c}: detector")
            det = bench.detect(tdir, c, gt, photos)
            rec = {"detector": det, "realism": real, "timing_s": {
                k: round(v, 1) for k, v in timing.items()}}
            rec["timing_s"]["total"] = round(time.time() - ct, 1)
            if c == "learned":
                rec["train_log_tail"] = train_verdict(tdir)
                rec["steps"] = args.steps or train_steps(cfg)
            entry["conditions"][c] = rec
            bench.log(f" {t}/{c}: AP50 {det['AP50']:.3f}  AP {det['AP']:.3f}  "
                      f"realism {real.get('accuracy')}  ({rec['timing_s']['total']:.0f} s)")
            entry["seconds_last_run"] = round(time.time() - t0, 1)
            with open(res_path, "w") as f:
                json.dump({"binary": args.binary, "version": version.strip(),
                           "repo": repo_state(), "targets": results}, f, indent=1)
    print(table(results, [t for t in TARGETS if t in results]))
    print(f"\nresults: {res_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

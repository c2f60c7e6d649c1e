#!/usr/bin/env python3
"""Sim-to-real benchmark: does a detector trained on rendergan's synthetic data find the objects
in real labelled photos, for plain renders (raw), a fixed hand-written photometric pipeline
(hand) and rendergan's learned augmentation (learned)? Does `rendergan fit` recover a scene
written too wide (wide: raw renders of scenes/<t>_wide.yaml; fitted: raw renders of the config
fit made of it against the pool photos)? Is the recommended path fit -> train -> generate
--augment (fit_learned) the best? And how many real labels does synthetic pre-training save?

    python3 bench/simreal/run.py [--targets a,b] [--conditions raw,hand,learned]
        [--detectors hog,yolo] [--fewreal] [--binary PATH] [--work DIR] [--steps N]
        [--reuse] [--reuse-run] [--threads 1] [--budget 6000]

Per target, the labelled photos are split once: targets with 20 or more photos keep the second
half (in file-name order; photos of one scene, such as a stereo pair, stay together) as held-out
TEST photos that nothing trains or fits on; the first half is the POOL, the user's photos:
`rendergan train` and the realism figures read the pool (unlabelled), and the few-real
conditions take their labelled photos from it. A target with fewer photos has no split: every
figure is on its one photo (or few), which also trains (said in the table).

Per target and synthetic condition:
  hog      the fixed HOG + linear SVM of detector.py, trained on the set, scored on TEST;
  yolo     ultralytics YOLO (yolo.py: yolo11n from its yaml, CPU, fixed seed and budget),
           trained on the set, scored on TEST with pycocotools;
  realism  `rendergan realism` (the conv classifier and training's probe features);
  eval     `rendergan eval` (c2st, kid, precision, recall, density, coverage);
  verdict  for learned: train's verdict (helped or not, its realism figures).
With --fewreal, on targets with a split (YOLO only): real_K (from scratch on K labelled pool
photos, K = 5, 10, all of the pool) and ft_K (the learned condition's YOLO, raw's where train
handed over the identity, fine-tuned on the same K photos with the same budget as real_K: the
cost of pre-training comes on top); K = 0 is the synthetic condition itself.

It prints a markdown table and writes WORK/results.json (merged with an existing one, so a run of
some targets or conditions keeps the others' results). Work files per target, WORK/<t>/:
  photos/ (the pool), test/ (the held-out photos), gt_test.json, gt_pool.json, split.json,
  raw/, hand/, run/ + train.log, learned/, <cond>.<figure>.json, yolo/<cond>/ (weights),
  <cond>.<detector>.detections.json.
Without --reuse every step of the chosen conditions runs again; --reuse skips a step whose
output exists (delete it to redo that step); --reuse-run skips only the training when
run/generator.bpk exists.
"""
import argparse
import json
import os
import re
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

CONDITIONS = ["raw", "hand", "learned", "forced", "learned_whole", "forced_whole", "wide",
              "fitted", "fit_learned"]
# the training runs (folders under WORK/<t>/) and their logs
TRAIN_LOG = {"run": "train.log", "run_fitted": "train_fitted.log", "run_whole": "train_whole.log"}
# the run folder each trained condition applies. learned/forced learn at the output's scale
# (train --learn-at output, said explicitly: whole was the default until 2026-12-07); *_whole learn on
# whole renders at the training resolution (--learn-at whole); fit_learned is README's path on
# the fitted config, learning at the output's scale as learned does (train's default whole until
# 2026-12-07f)
RUN_OF = {"learned": "run", "forced": "run", "learned_whole": "run_whole",
          "forced_whole": "run_whole", "fit_learned": "run_fitted"}
DETECTORS = ["hog", "yolo"]
FIGURES = ["realism", "eval"]
MIN_SPLIT = 20
FEW_K = [5, 10]


def natural(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def board_scene(name):
    """Both cameras of one stereo shot are one scene: left07.jpg and right07.jpg."""
    return re.sub(r"^(left|right)", "", name)


# name -> (where the photos are, COCO labels, category, scene of a photo for the split)
#   where: "shared" (../shared/data/simreal), "cache/<dir>" (fetch.sh or fetch_sets.py)
TARGETS = {
    "blades": ("shared", "shared:labels.json", "blade", None),
    "stuff": ("shared", "shared:labels.json", "object", None),
    "coins": ("cache/coins", "labels/coins.json", "coin", None),
    "sweets": ("cache/sweets", "labels/sweets.json", "sweet", None),
    "boards": ("cache/boards", "labels/boards.json", "board", board_scene),
    "nuts": ("cache/nuts/photos", "cache:nuts/labels.json", "nut", None),
    "wbc": ("cache/wbc/photos", "cache:wbc/labels.json", "wbc", None),
    "cards": ("cache/cards/photos", "cache:cards/labels.json", "card", None),
    "apples": ("cache/apples/photos", "cache:apples/labels.json", "apple", None),
}
FETCHED_BY_SETS = {"nuts", "wbc", "cards", "apples"}
SHARED_PHOTOS = {"blades": ["pca_test1.jpg"], "stuff": ["stuff.jpg"]}


def target_labels(target, shared, cache):
    where, labels, cat, scene = TARGETS[target]
    if labels.startswith("shared:"):
        labels = os.path.join(shared, labels[len("shared:"):])
    elif labels.startswith("cache:"):
        labels = os.path.join(cache, labels[len("cache:"):])
    else:
        labels = os.path.join(HERE, labels)
    photo_dir = shared if where == "shared" else os.path.join(cache, where[len("cache/"):])
    return photo_dir, labels, cat, scene


def split_photos(names, scene):
    """(pool, test) file names: with MIN_SPLIT or more photos, the scenes in natural file-name
    order, first half pool and second half test; otherwise every photo is both."""
    if len(names) < MIN_SPLIT:
        return list(names), list(names)
    scene = scene or (lambda n: n)
    scenes = sorted({scene(n) for n in names}, key=natural)
    pool_scenes = set(scenes[:(len(scenes) + 1) // 2])
    pool = sorted((n for n in names if scene(n) in pool_scenes), key=natural)
    test = sorted((n for n in names if scene(n) not in pool_scenes), key=natural)
    return pool, test


def sync_folder(folder, files):
    """Make `folder` hold exactly copies of `files` (paths), by base name."""
    os.makedirs(folder, exist_ok=True)
    names = {os.path.basename(p) for p in files}
    for old in os.listdir(folder):
        if old not in names:
            os.remove(os.path.join(folder, old))
    for p in files:
        dst = os.path.join(folder, os.path.basename(p))
        if not os.path.isfile(dst) or os.path.getsize(dst) != os.path.getsize(p):
            shutil.copyfile(p, dst)


def subset_coco(data, cid, names):
    images = [im for im in data["images"] if im["file_name"] in names]
    ids = {im["id"] for im in images}
    return {
        "info": data.get("info", {}),
        "images": images,
        "annotations": [a for a in data["annotations"]
                        if a["image_id"] in ids and a["category_id"] == cid],
        "categories": [c for c in data["categories"] if c["id"] == cid],
    }


def prepare_target(target, tdir, shared, cache):
    """Split the photos; copy the pool into tdir/photos and the test photos into tdir/test;
    write gt_test.json and gt_pool.json (this target's category only, id kept)."""
    photo_dir, labels, cat, scene = target_labels(target, shared, cache)
    if not os.path.isfile(labels):
        hint = {"shared": "pass --shared DIR"}.get(TARGETS[target][0],
                                                    "run bench/simreal/fetch_sets.py"
                                                    if target in FETCHED_BY_SETS
                                                    else "run bench/simreal/fetch.sh")
        raise SystemExit(f"run.py: {target}: missing {labels} ({hint})")
    with open(labels) as f:
        data = json.load(f)
    cats = [c for c in data["categories"] if c["name"] == cat]
    assert len(cats) == 1, f"{labels}: expected one category {cat!r}"
    cid = cats[0]["id"]
    names = SHARED_PHOTOS.get(target) or [im["file_name"] for im in data["images"]]
    missing = [n for n in names if not os.path.isfile(os.path.join(photo_dir, n))]
    if missing:
        raise SystemExit(f"run.py: {target}: missing photo {os.path.join(photo_dir, missing[0])}"
                         " (run bench/simreal/fetch.sh / fetch_sets.py, or pass --shared)")
    pool, test = split_photos(names, scene)
    sync_folder(os.path.join(tdir, "photos"), [os.path.join(photo_dir, n) for n in pool])
    sync_folder(os.path.join(tdir, "test"), [os.path.join(photo_dir, n) for n in test])
    for name, part in (("gt_test.json", test), ("gt_pool.json", pool)):
        with open(os.path.join(tdir, name), "w") as f:
            json.dump(subset_coco(data, cid, set(part)), f)
    split = {"held_out": len(names) >= MIN_SPLIT, "pool": pool, "test": test}
    with open(os.path.join(tdir, "split.json"), "w") as f:
        json.dump(split, f, indent=1)
    with open(os.path.join(tdir, "gt_test.json")) as f:
        n_boxes = sum(1 for a in json.load(f)["annotations"] if not a.get("iscrowd"))
    return split, n_boxes, cat


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

    def cached(self, path, make):
        """The JSON at path, or make() written there."""
        if self.skip(path):
            with open(path) as f:
                return json.load(f)
        res = make()
        with open(path, "w") as f:
            json.dump(res, f)
        return res

    def dataset(self, cond, cfg, tdir, timing):
        out = os.path.join(tdir, cond)
        done = os.path.join(out, "annotations")
        photos = os.path.join(tdir, "photos")
        if cond == "raw":
            if not self.skip(done):
                _, timing["generate_s"] = self.rg(
                    ["generate", "-c", cfg, "-o", out, "--overwrite", "-q"] + self.gen_threads)
        elif cond == "hand":
            raw = os.path.join(tdir, "raw")
            if not os.path.isdir(os.path.join(raw, "annotations")):
                self.dataset("raw", cfg, tdir, {})
            if not self.skip(done):
                t0 = time.time()
                hand.apply(raw, out, seed=0)
                timing["hand_s"] = time.time() - t0
            manifest = os.path.join(out, "manifest.jsonl")
            if not os.path.isfile(manifest):  # a hand set made before hand.py copied it
                shutil.copyfile(os.path.join(raw, "manifest.jsonl"), manifest)
                stale = os.path.join(tdir, f"{cond}.eval.json")  # measured without the manifest
                if os.path.isfile(stale):
                    os.remove(stale)
        elif cond in ("wide", "fitted"):
            # wide: raw renders of the deliberately wide config (scenes/<t>_wide.yaml, its unsure
            # ranges marked fit: true); fitted: raw renders of what `rendergan fit` made of it
            # against the pool photos
            wide = wide_config(cfg)
            if wide is None:
                return None
            use = wide
            if cond == "fitted":
                use = os.path.join(tdir, "fitted.yaml")
                if not self.skip(use):
                    _, timing["fit_s"] = self.rg(
                        ["fit", "-c", wide, "--real", photos, "-o", use, "--overwrite", "-q"],
                        log_path=os.path.join(tdir, "fit.log"))
                    if os.path.exists(out):  # a new fit makes the old set stale
                        shutil.rmtree(out)
            if not self.skip(done):
                _, timing["generate_s"] = self.rg(
                    ["generate", "-c", use, "-o", out, "--overwrite", "-q"] + self.gen_threads)
        elif cond == "fit_learned":
            # README's recommended path: fit -> train -> generate --augment, all on the pool
            fitted = os.path.join(tdir, "fitted.yaml")
            if not os.path.isfile(fitted):
                if self.dataset("fitted", cfg, tdir, {}) is None:
                    return None
            self.trained_set(fitted, tdir, "run_fitted", out, timing, ["--learn-at", "output"])
        elif cond in ("forced", "forced_whole"):
            # what the learned weights train refused would have made: its best checkpoint
            # (generator_best.bpk) applied anyway; only when the verdict handed over the identity
            run = os.path.join(tdir, RUN_OF[cond])
            best = os.path.join(run, "generator_best.bpk")
            if not os.path.isfile(best) or learned_helped(tdir, RUN_OF[cond]):
                return None
            forced = os.path.join(tdir, RUN_OF[cond] + "_forced")
            if not self.skip(done):
                shutil.rmtree(forced, ignore_errors=True)
                os.makedirs(forced)
                for name in ("run.json", "config.yaml", "training.json"):
                    if os.path.isfile(os.path.join(run, name)):
                        shutil.copyfile(os.path.join(run, name), os.path.join(forced, name))
                shutil.copyfile(best, os.path.join(forced, "generator.bpk"))
                _, timing["generate_s"] = self.rg(
                    ["generate", "-c", cfg, "--augment", forced, "-o", out, "--overwrite", "-q"]
                    + self.gen_threads)
        elif cond == "learned_whole":
            self.trained_set(cfg, tdir, "run_whole", out, timing, ["--learn-at", "whole"])
        else:
            self.trained_set(cfg, tdir, "run", out, timing, ["--learn-at", "output"])
        return out

    def trained_set(self, cfg, tdir, run_name, out, timing, extra=()):
        """`rendergan train -c cfg` on the pool photos into WORK/<t>/<run_name> (its log in
        TRAIN_LOG[run_name]), then `generate --augment` of cfg with it into out."""
        run = os.path.join(tdir, run_name)
        trained = os.path.isfile(os.path.join(run, "generator.bpk"))
        if not ((self.args.reuse or self.args.reuse_run) and trained):
            argv = ["train", "-c", cfg, "--real", os.path.join(tdir, "photos"), "-o", run,
                    "--device", "cpu", "-q"] + list(extra)
            if self.args.steps:
                argv += ["--steps", str(self.args.steps)]
            if os.path.isdir(run):
                shutil.rmtree(run)
            _, timing["train_s"] = self.rg(argv,
                                           log_path=os.path.join(tdir, TRAIN_LOG[run_name]))
            if os.path.exists(out):  # a new run makes the old learned set stale
                shutil.rmtree(out)
        if not self.skip(os.path.join(out, "annotations")):
            _, timing["generate_s"] = self.rg(
                ["generate", "-c", cfg, "--augment", run, "-o", out, "--overwrite", "-q"]
                + self.gen_threads)

    def json_line(self, out, what):
        lines = [ln for ln in out.splitlines() if ln.strip().startswith("{")]
        if not lines:
            raise RuntimeError(f"rendergan {what} printed no JSON line:\n{out}")
        return json.loads(lines[-1])

    def realism(self, tdir, cond, crop):
        def make():
            # images/ rather than the dataset folder: its preview.png is no image of the set.
            # The geometry of training's probe: half of a training crop of the photos against
            # half of a whole image, at 32 px
            out, secs = self.rg(["realism", "--real", os.path.join(tdir, "photos"), "--images",
                                 os.path.join(tdir, cond, "images"), "--crop", f"{crop / 2:g}",
                                 "--images-crop", "0.5", "--res", "32"])
            return {**self.json_line(out, "realism"), "seconds": round(secs, 1)}
        return self.cached(os.path.join(tdir, f"{cond}.realism.json"), make)

    def eval(self, tdir, cond, crop):
        def make():
            report = os.path.join(tdir, f"{cond}.eval")
            # the dataset folder: eval reads its images/ and its manifest (the probe's labels);
            # the pool's labels score the probe's boxes (photo_ap): on a target with a
            # held-out split never the test photos' (without one, pool and test are the photo)
            out, secs = self.rg(["eval", "--real", os.path.join(tdir, "photos"), "--images",
                                 os.path.join(tdir, cond), "--crop", f"{crop:g}",
                                 "--real-labels", os.path.join(tdir, "gt_pool.json"),
                                 "-o", report])
            return {**self.json_line(out, "eval"), "seconds": round(secs, 1)}
        return self.cached(os.path.join(tdir, f"{cond}.eval.json"), make)

    def hog(self, tdir, cond):
        def make():
            t0 = time.time()
            metrics, dets = detector.run(os.path.join(tdir, cond),
                                         os.path.join(tdir, "gt_test.json"),
                                         os.path.join(tdir, "test"), log=self.log)
            metrics["seconds"] = round(time.time() - t0, 1)
            with open(os.path.join(tdir, f"{cond}.hog.detections.json"), "w") as f:
                json.dump(dets, f)
            return metrics
        return self.cached(os.path.join(tdir, f"{cond}.hog.json"), make)

    def yolo(self, tdir, cond, cat, imgsz, datasets=(), real_k=None, init=None, budget=None):
        """YOLO trained on `datasets` (condition folders) and/or the first real_k pool photos
        (0 = none, -1 = all), from `init` weights if given, scored on the test photos."""
        import yolo

        budget = budget or self.args.budget
        wdir = os.path.join(tdir, "yolo", cond)
        weights = os.path.join(wdir, "run", "weights", "last.pt")

        def make():
            real = None
            if real_k:
                with open(os.path.join(tdir, "gt_pool.json")) as f:
                    pool = sorted(json.load(f)["images"], key=lambda im: natural(im["file_name"]))
                ids = [im["id"] for im in (pool if real_k < 0 else pool[:real_k])]
                real = (os.path.join(tdir, "gt_pool.json"), os.path.join(tdir, "photos"), ids)
            if not (self.skip(weights) and os.path.isfile(os.path.join(wdir, "yolo_train.json"))):
                _, meta = yolo.train(wdir, [os.path.join(tdir, d) for d in datasets], real, init,
                                     budget, imgsz, cat, log=self.log)
            else:
                with open(os.path.join(wdir, "yolo_train.json")) as f:
                    meta = json.load(f)
            t0 = time.time()
            metrics, dets = yolo.score(weights, os.path.join(tdir, "gt_test.json"),
                                       os.path.join(tdir, "test"), imgsz=imgsz)
            with open(os.path.join(tdir, f"{cond}.yolo.detections.json"), "w") as f:
                json.dump(dets, f)
            return {**metrics, "train": meta, "score_s": round(time.time() - t0, 1)}
        return self.cached(os.path.join(tdir, f"{cond}.yolo.json", ), make), weights


def wide_config(cfg):
    """scenes/<t>_wide.yaml beside the target's config, when the target has one."""
    wide = cfg[: -len(".yaml")] + "_wide.yaml"
    return wide if os.path.isfile(wide) else None


def config_of(cfg):
    with open(cfg) as f:
        return yaml.safe_load(f) or {}


def real_crop_mid(data, cfg):
    rc = (data.get("train") or {}).get("real_crop", {"uniform": [0.3, 0.8]})
    if isinstance(rc, (int, float)):
        return float(rc)
    if "uniform" in rc:
        a, b = rc["uniform"]
        return (a + b) / 2
    if "const" in rc:
        return float(rc["const"])
    raise SystemExit(f"{cfg}: train.real_crop: only a number, const or uniform is understood here")


def repo_state():
    """The checkout's commit and whether its tracked files differ from it."""
    def git(*a):
        p = subprocess.run(["git", "-C", REPO] + list(a), capture_output=True, text=True)
        return p.stdout.strip() if p.returncode == 0 else None
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return {"head": head, "tracked_changes": bool(dirty) if dirty is not None else None}


def fit_summary(tdir):
    """What `rendergan fit` reported for the fitted condition (its report.json): whether it
    improved, the objective and train's content warnings before and after, the fitted
    distributions."""
    path = os.path.join(tdir, "fitted.fit", "report.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        r = json.load(f)
    return {"improved": r["improved"], "candidates": r["candidates"],
            "seconds": round(r["seconds"], 1),
            "objective": [r["before"]["objective"], r["after"]["objective"]],
            "photo_distance": [r["before"]["photo_distance"], r["after"]["photo_distance"]],
            "content_warnings": [r["before"]["content_warnings"],
                                 r["after"]["content_warnings"]],
            "params": {p["path"]: {"written": p["written"], "fitted": p["fitted"],
                                   "moments": [p["written_moments"], p["fitted_moments"]]}
                       for p in r["params"]}}


def learned_helped(tdir, run="run"):
    """Whether train's verdict handed over the learned weights (training.json)."""
    path = os.path.join(tdir, run, "training.json")
    if not os.path.isfile(path):
        return False
    with open(path) as f:
        return json.load(f).get("verdict", {}).get("outcome") == "helped"


def train_verdict(tdir, run="run"):
    """train's closing lines, and what training.json says (of WORK/<t>/<run>)."""
    out = {}
    path = os.path.join(tdir, TRAIN_LOG[run])
    if os.path.isfile(path):
        with open(path) as f:
            out["log"] = [ln.rstrip("\n") for ln in f if ln.startswith("rendergan:")]
    path = os.path.join(tdir, run, "training.json")
    if os.path.isfile(path):
        with open(path) as f:
            out["training"] = json.load(f)
    return out


def fmt(v, digits=2):
    return "–" if v is None else f"{v:.{digits}f}"


def table(results, targets):
    conds = " / ".join(CONDITIONS)
    rows = [f"| target | photos (pool / test) | HOG AP50 {conds} "
            f"| YOLO AP50 {conds} | YOLO AP {conds} |",
            "| --- | --- | --- | --- | --- |"]
    for t in targets:
        e = results.get(t, {})
        r = e.get("conditions", {})

        def cell(det, key):
            return " / ".join(fmt((r.get(c, {}).get(det) or {}).get(key)) for c in CONDITIONS)

        split = e.get("split", {})
        photos = (f"{len(split.get('pool', []))} / {len(split.get('test', []))}"
                  if split.get("held_out") else f"{e.get('photos', '?')} (no split)")
        rows.append(f"| {t} | {photos} | {cell('hog', 'AP50')} | {cell('yolo', 'AP50')} "
                    f"| {cell('yolo', 'AP')} |")
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--conditions", default=",".join(CONDITIONS))
    ap.add_argument("--detectors", default=",".join(DETECTORS))
    ap.add_argument("--figures", default=",".join(FIGURES),
                    help="realism figures to measure per set (realism, eval; '' for none)")
    ap.add_argument("--fewreal", action="store_true",
                    help="also the few-real conditions (YOLO, targets with a held-out split)")
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "release", "rendergan"))
    ap.add_argument("--work", default=os.path.join(REPO, "output", "simreal"))
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared", "data", "simreal"),
                    help="folder with pca_test1.jpg, stuff.jpg and labels.json")
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"),
                    help="where fetch.sh and fetch_sets.py put the other targets' photos")
    ap.add_argument("--steps", type=int, help="rendergan train --steps (default: the config's)")
    ap.add_argument("--budget", type=int, default=6000,
                    help="YOLO training budget in images seen (default 6000: 20 epochs of 300)")
    ap.add_argument("--threads", type=int, default=1,
                    help="generate --threads and RAYON_NUM_THREADS for rendergan (default 1)")
    ap.add_argument("--reuse", action="store_true", help="skip every step whose output exists")
    ap.add_argument("--reuse-run", action="store_true",
                    help="skip training when WORK/<t>/run/generator.bpk exists")
    args = ap.parse_args()
    targets = [t for t in args.targets.split(",") if t]
    conds = [c for c in args.conditions.split(",") if c]
    dets = [d for d in args.detectors.split(",") if d]
    figs = [f for f in args.figures.split(",") if f]
    for name, got, known in (("targets", targets, TARGETS), ("conditions", conds, CONDITIONS),
                             ("detectors", dets, DETECTORS), ("figures", figs, FIGURES)):
        for v in got:
            if v not in known:
                ap.error(f"--{name}: unknown {v!r} (known: {', '.join(known)})")
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        ap.error(f"--binary: {args.binary} is not an executable (build it or pass --binary)")
    if any(TARGETS[t][0].startswith("cache/") and t not in FETCHED_BY_SETS for t in targets):
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

    def save():
        # merged with the file as it is now, so two runs of different targets at once keep
        # each other's results
        merged = {}
        if os.path.isfile(res_path):
            with open(res_path) as f:
                merged = json.load(f).get("targets", {})
        merged.update({t: results[t] for t in targets if t in results})
        with open(res_path + ".tmp", "w") as f:
            json.dump({"binary": args.binary, "version": version.strip(), "repo": repo_state(),
                       "targets": merged}, f, indent=1)
        os.replace(res_path + ".tmp", res_path)

    for t in targets:
        t0 = time.time()
        tdir = os.path.join(work, t)
        os.makedirs(tdir, exist_ok=True)
        cfg = os.path.join(HERE, "scenes", f"{t}.yaml")
        data = config_of(cfg)
        split, n_boxes, cat = prepare_target(t, tdir, os.path.abspath(args.shared),
                                             os.path.abspath(args.cache))
        crop = real_crop_mid(data, cfg)
        imgsz = max(data["image"]["width"], data["image"]["height"])
        entry = results.setdefault(t, {})
        entry.update({"config": os.path.relpath(cfg, REPO), "photos": len(split["pool"]),
                      "split": split, "test_boxes": n_boxes, "realism_crop": crop,
                      "yolo_imgsz": imgsz, "yolo_budget": args.budget})
        entry.setdefault("conditions", {})
        bench.log(f"{t}: pool {len(split['pool'])} photo(s), test {len(split['test'])} "
                  f"({n_boxes} boxes){'' if split['held_out'] else ', no split'}")
        for c in conds:
            ct = time.time()
            timing = {}
            bench.log(f" {t}/{c}: dataset")
            if bench.dataset(c, cfg, tdir, timing) is None:
                why = ("no scenes/" + t + "_wide.yaml" if c in ("wide", "fitted", "fit_learned")
                       else "train handed over the learned weights")
                bench.log(f" {t}/{c}: not made ({why})")
                entry["conditions"].pop(c, None)
                continue
            rec = entry["conditions"].setdefault(c, {})
            rec.pop("detector", None)  # the HOG's results before the YOLO detector came
            for fig in figs:
                bench.log(f" {t}/{c}: {fig}")
                rec[fig] = getattr(bench, fig)(tdir, c, crop)
            if "hog" in dets:
                bench.log(f" {t}/{c}: hog")
                rec["hog"] = bench.hog(tdir, c)
            raw_yolo = os.path.join(tdir, "raw.yolo.json")
            if "yolo" in dets and c in ("learned", "learned_whole") \
                    and not learned_helped(tdir, RUN_OF[c]) \
                    and os.path.isfile(raw_yolo):
                # the verdict handed over the identity: the learned set is the raw set, byte
                # for byte, and YOLO (seeded, deterministic) would score it the same
                with open(raw_yolo) as f:
                    rec["yolo"] = {**json.load(f), "same_as": "raw"}
            elif "yolo" in dets:
                bench.log(f" {t}/{c}: yolo")
                rec["yolo"], _ = bench.yolo(tdir, c, cat, imgsz, datasets=[c])
            rec["timing_s"] = {k: round(v, 1) for k, v in timing.items()}
            rec["timing_s"]["total"] = round(time.time() - ct, 1)
            if c == "fitted":
                rec["fit"] = fit_summary(tdir)
            if c in RUN_OF:
                rec["verdict"] = train_verdict(tdir, RUN_OF[c])
                rec["steps"] = args.steps or (data.get("train") or {}).get("steps")
            bench.log(f" {t}/{c}: " + "  ".join(
                f"{d} AP50 {rec[d]['AP50']:.3f} AP {rec[d]['AP']:.3f}" for d in dets)
                + f"  ({rec['timing_s']['total']:.0f} s)")
            entry["seconds_last_run"] = round(time.time() - t0, 1)
            save()
        if args.fewreal and split["held_out"]:
            few = entry.setdefault("fewreal", {})
            # pre-training = the set the tool hands over: learned, or raw where train handed
            # over the identity chain (its YOLO is raw's)
            same = (entry.get("conditions", {}).get("learned", {}).get("yolo") or {}).get("same_as")
            learned_w = os.path.join(tdir, "yolo", same or "learned", "run", "weights", "last.pt")
            for k in FEW_K + [-1]:
                if k > len(split["pool"]):
                    continue
                name = "all" if k < 0 else str(k)
                bench.log(f" {t}/real_{name}")
                few[f"real_{name}"], _ = bench.yolo(tdir, f"real_{name}", cat, imgsz, real_k=k)
                if os.path.isfile(learned_w):
                    bench.log(f" {t}/ft_{name}")
                    few[f"ft_{name}"], _ = bench.yolo(tdir, f"ft_{name}", cat, imgsz, real_k=k,
                                                      init=learned_w)
                few["k"] = {"5": 5, "10": 10, "all": len(split["pool"])}
                save()
    print(table(results, [t for t in TARGETS if t in results]))
    print(f"\nresults: {res_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""`generate --augment` beside an albumentations pipeline, in one run (issue 14).

Three figures on the same machine in the same minutes, each as images/s over both cores:
- rendergan `bench` plain (render, labels, PNG, COCO with RLE masks) on the TASK-A scene
  (bench/task_a/task_a.yaml: 8 boxes, 256²; `--config` for another);
- the same with `--augment RUN` (the learned chain applied to every image);
- albumentations doing what a hand pipeline does to such a dataset: background replacement
  (a random crop of a background photo where the instance mask is 0), Gaussian blur,
  brightness/contrast and Gaussian noise, carrying the boxes and the instance mask; two worker
  processes, on 256² images and instance masks that generate writes from configs/bench.yaml
  (TASK-A writes no mask PNGs). Reported twice: the transforms alone on decoded images
  ("transform"), and the whole loop that reads each image and mask and writes the result as PNG
  ("with I/O"), which is what generate's figure includes; "io_loop" is the same loop without
  the processes' start (importing albumentations and cv2: ~3 s on the 2-core machine), the
  stricter comparison.

    python3 bench/augment_peer.py --augment runs/x [-n 300] [--pairs 3] [--backgrounds ../shared/data/real]

Needs albumentations and opencv-python-headless (pip install albumentations). Prints one JSON
line with the three figures, the ratios, and the like-for-like cost: the CPU milliseconds
augmenting adds to an image (both cores, from the two generate rates) beside albumentations'
transform milliseconds. The "with I/O" rate includes its two processes' start (importing
albumentations), so it rises with -n.
"""

import argparse
import glob
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def bench(binary, config, n, augment=None):
    cmd = [binary, "bench", "-c", config, "-n", str(n)]
    if augment:
        cmd += ["--augment", augment]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def _work(args):
    files, backgrounds, out_dir, seed = args
    import albumentations as A
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    pipe = A.Compose(
        [
            A.GaussianBlur(blur_limit=(3, 7), p=1.0),
            A.RandomBrightnessContrast(p=1.0),
            A.GaussNoise(p=1.0),
        ],
        bbox_params=A.BboxParams(format="coco", label_fields=["labels"]),
    )
    bgs = [cv2.imread(b) for b in backgrounds]
    bgs = [b for b in bgs if b is not None]
    t_transform = 0.0
    t0 = time.perf_counter()
    for img_path, mask_path, boxes in files:
        img = cv2.imread(img_path)
        ids = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
        t = time.perf_counter()
        h, w = img.shape[:2]
        bg = bgs[rng.integers(len(bgs))]
        side = int(min(bg.shape[:2]) * rng.uniform(0.5, 1.0))
        y, x = rng.integers(0, bg.shape[0] - side + 1), rng.integers(0, bg.shape[1] - side + 1)
        crop = cv2.resize(bg[y : y + side, x : x + side], (w, h))
        img = np.where((ids > 0)[:, :, None], img, crop)
        r = pipe(image=img, mask=ids, bboxes=boxes, labels=[0] * len(boxes))
        t_transform += time.perf_counter() - t
        cv2.imwrite(os.path.join(out_dir, os.path.basename(img_path)), r["image"])
    return t_transform, time.perf_counter() - t0, len(files)


def albumentations_rate(dataset, backgrounds, workers=2):
    coco = json.load(open(os.path.join(dataset, "annotations/instances_train.json")))
    boxes = {}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        if w > 0 and h > 0:
            boxes.setdefault(a["image_id"], []).append([x, y, w, h])
    items = [
        (
            os.path.join(dataset, "images/train", im["file_name"]),
            os.path.join(dataset, "masks/train", im["file_name"]),
            boxes.get(im["id"], []),
        )
        for im in coco["images"]
    ]
    out = tempfile.mkdtemp(prefix="albu-")
    chunks = [items[k::workers] for k in range(workers)]
    t = time.perf_counter()
    with mp.Pool(workers) as pool:
        res = pool.map(_work, [(c, backgrounds, out, k) for k, c in enumerate(chunks)])
    wall = time.perf_counter() - t
    n = sum(r[2] for r in res)
    transform = sum(r[0] for r in res)
    # the read-transform-write loops alone, without the processes' start (importing
    # albumentations and cv2 takes seconds): the slower worker's loop sets the time
    loop = max(r[1] for r in res)
    return {"transform": n / (transform / workers), "with_io": n / wall, "io_loop": n / loop}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--augment", required=True, help="a trained run folder")
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=3, help="alternating plain/augment runs")
    ap.add_argument(
        "--config",
        default=os.path.join(ROOT, "bench/task_a/task_a.yaml"),
        help="the scene generate's two figures are measured on (default: TASK-A)",
    )
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/rendergan"))
    ap.add_argument("--backgrounds", default=os.path.join(ROOT, "../shared/data/real"))
    a = ap.parse_args()
    backgrounds = [
        f
        for f in glob.glob(os.path.join(a.backgrounds, "*"))
        if f.lower().endswith((".png", ".jpg", ".jpeg"))
    ]
    if not backgrounds:
        raise SystemExit(f"--backgrounds {a.backgrounds}: no png/jpg images")
    # alternating pairs, each figure their median: the machine's speed drifts within minutes
    pairs = [(bench(a.binary, a.config, a.n), bench(a.binary, a.config, a.n, a.augment))
             for _ in range(a.pairs)]
    plain = statistics.median(p for p, _ in pairs)
    augmented = statistics.median(q for _, q in pairs)
    data = tempfile.mkdtemp(prefix="peer-")
    subprocess.run(
        [a.binary, "generate", "-c", os.path.join(ROOT, "configs/bench.yaml"), "-n", str(a.n),
         "-o", data, "--overwrite", "-q", "--seed", "5"],
        check=True, capture_output=True,
    )
    albu = albumentations_rate(data, backgrounds)
    print(
        json.dumps(
            {
                "images": a.n,
                "config": os.path.relpath(a.config, ROOT),
                "size": "256x256, 8 objects",
                "generate_images_per_s": plain,
                "generate_augment_images_per_s": augmented,
                "albumentations_images_per_s": {k: round(v, 1) for k, v in albu.items()},
                "augment_over_plain": round(augmented / plain, 2),
                "augment_over_plain_per_pair": [round(q / p, 2) for p, q in pairs],
                "augment_over_albumentations_with_io": round(augmented / albu["with_io"], 2),
                "augment_over_albumentations_io_loop": round(augmented / albu["io_loop"], 2),
                "augment_over_albumentations_transform": round(augmented / albu["transform"], 2),
                # what augmenting adds per image, in CPU ms over both cores, beside what
                # albumentations' transforms take per image: the like-for-like cost
                "augment_added_cpu_ms": round(2000 * (1 / augmented - 1 / plain), 2),
                "albumentations_transform_cpu_ms": round(2000 / albu["transform"], 2),
                "plain_over_albumentations_with_io": round(plain / albu["with_io"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()

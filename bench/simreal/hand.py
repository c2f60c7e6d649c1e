#!/usr/bin/env python3
"""The `hand` condition: a fixed, hand-written photometric pipeline applied to a rendered dataset.

    python3 bench/simreal/hand.py RAW_DATASET OUT_DATASET [--seed 0]

Every image under RAW/images/<split>/ goes through, in this order, with its own random stream
(seeded from --seed and the image's split and file name, so the result does not depend on
order or on which other images exist):
  1. Gaussian blur, sigma uniform in [0, 1.5] px (per channel, scipy.ndimage);
  2. contrast: (x - mean) * c + mean, c uniform in [0.7, 1.3], mean over the whole image;
  3. brightness: x * b, b uniform in [0.8, 1.2];
  4. Gaussian noise, sigma uniform in [0, 8] (of 255), independent per pixel and channel;
then clipped to [0, 255] and rounded. The result is written to OUT/images/<split>/ under the same
name. The labels do not change: annotations/ (and labels/ if present) and manifest.jsonl are
copied as they are, so a COCO or YOLO reader of the raw dataset reads this one the same way, and
`rendergan eval` finds the boxes its detector probe trains on. data.yaml (it holds the raw
dataset's absolute path), masks and depth are not copied: the benchmark reads none of them.
"""
import argparse
import hashlib
import os
import shutil
import sys

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

BLUR = (0.0, 1.5)
CONTRAST = (0.7, 1.3)
BRIGHTNESS = (0.8, 1.2)
NOISE = (0.0, 8.0)


def image_rng(seed, split, name):
    h = hashlib.sha256(f"{seed}/{split}/{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def augment(img, rng):
    """img: HxWxC uint8 -> HxWxC uint8, the four steps above."""
    x = img.astype(np.float32)
    sigma = rng.uniform(*BLUR)
    if sigma > 0:
        x = ndi.gaussian_filter(x, sigma=(sigma, sigma, 0), mode="reflect")
    c = rng.uniform(*CONTRAST)
    m = x.mean()
    x = (x - m) * c + m
    x = x * rng.uniform(*BRIGHTNESS)
    x = x + rng.normal(0.0, rng.uniform(*NOISE), size=x.shape).astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def apply(raw, out, seed=0):
    raw_images = os.path.join(raw, "images")
    if not os.path.isdir(raw_images):
        raise SystemExit(f"hand.py: {raw_images}: not a dataset folder (no images/)")
    tmp = out.rstrip("/") + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    n = 0
    for split in sorted(os.listdir(raw_images)):
        src = os.path.join(raw_images, split)
        if not os.path.isdir(src):
            continue
        dst = os.path.join(tmp, "images", split)
        os.makedirs(dst)
        for name in sorted(os.listdir(src)):
            im = Image.open(os.path.join(src, name))
            mode = im.mode
            arr = np.asarray(im.convert("RGB"))
            res = Image.fromarray(augment(arr, image_rng(seed, split, name)))
            if mode == "L":
                res = res.convert("L")
            res.save(os.path.join(dst, name), compress_level=1)
            n += 1
    for extra in ("annotations", "labels"):
        if os.path.isdir(os.path.join(raw, extra)):
            shutil.copytree(os.path.join(raw, extra), os.path.join(tmp, extra))
    if os.path.isfile(os.path.join(raw, "manifest.jsonl")):
        shutil.copyfile(os.path.join(raw, "manifest.jsonl"), os.path.join(tmp, "manifest.jsonl"))
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("raw")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = apply(args.raw, args.out, args.seed)
    print(f"hand.py: {n} images -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

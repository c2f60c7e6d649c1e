#!/usr/bin/env python3
"""The benchmark's fixed detector: HOG + linear SVM, one class, trained only on a synthetic set.

    python3 bench/simreal/detector.py DATASET GT.json PHOTOS_DIR [--out detections.json]

DATASET is a rendergan dataset folder (annotations/instances_<split>.json, images/<split>/);
every split present is used for training. GT.json is the real target's COCO file (one category)
and PHOTOS_DIR holds the files its `images` name. Prints AP50 and AP (COCO 0.50:0.95).

The detector is deliberately plain and fixed, so that the only thing that changes between the
benchmark's conditions is the synthetic data:
- everything is grey (ITU-R 601 luma, Pillow's "L"), HOG of scikit-image: 9 orientations,
  8 x 8 px cells, 2 x 2 cell blocks, L2-Hys (scikit-image's gradient and cell histograms; the
  block normalisation vectorised here, checked against skimage.feature.hog on every run);
- window: 64 px on its long side, aspect ratio = the median of the training boxes, but the
  short side at least 32 px (an elongated object gets a longer window: at 16 px the one-cell
  stride would be half the object's thickness); sides rounded to whole cells; a window holds its
  box plus a margin of 1/8 of the box on each side;
- positives: every box of at least MIN_BOX px on both sides (and visibility >= 0.5 where the
  annotation has it; at most MAX_POS_BOXES, a seeded random subset) plus its horizontal flip,
  cropped with the margin (image edges replicated where the crop leaves the image) and resized
  to the window; negatives: about NEG_TOTAL random windows spread over the images, at random
  scales (box size 0.05-0.9 of the image's shorter side, log-uniform) whose box has IoU < 0.3
  with every annotation; then one round of hard negatives: the trained SVM slides over
  MINE_IMAGES training images (the same pyramid as detection) and up to MINE_MAX of the
  highest-scoring windows (score > -1, NMS at 0.7, at most 60 per image) with IoU < 0.3 to every
  annotation join the negatives. LinearSVC, C = 0.01, balanced class weights, fixed random_state;
- detection: an image pyramid whose levels put objects whose size (geometric mean of the box
  sides) is 0.03 ... 0.9 of the photo's shorter side (at least MIN_OBJECT_PX = 20 px, to bound
  the upsampled levels' cost) at the window's size, scale step 1.2, HOG per level, the window
  slid one cell (8 px at window scale) at a time, per-image greedy NMS at IoU 0.3, top 100 by
  SVM score;
- evaluation: pycocotools COCOeval (bbox) against GT.json over all its images.
"""
import argparse
import contextlib
import io
import json
import os
import sys

import numpy as np
from PIL import Image
from skimage.feature import hog as skimage_hog

try:  # the Cython core of skimage.feature.hog, for hog() below
    from skimage.feature import _hoghistogram
    from skimage.feature._hog import _hog_channel_gradient
except ImportError:  # a later scikit-image moved them: fall back to the public function
    _hoghistogram = None

CELL = 8
WIN_LONG = 64
WIN_SHORT_MIN = 32
MARGIN = 1 / 8
MIN_BOX = 12
MIN_VISIBILITY = 0.5
MAX_POS_BOXES = 3000
NEG_TOTAL = 4000
MINE_IMAGES = 40
MINE_MAX = 4000
PAD = 32
SCALE_STEP = 1.2
OBJ_RANGE = (0.03, 0.9)
MIN_OBJECT_PX = 20
NMS_IOU = 0.3
TOP_K = 100
SVM_C = 0.01
SEED = 0
HOG_ARGS = dict(orientations=9, pixels_per_cell=(CELL, CELL), cells_per_block=(2, 2),
                block_norm="L2-Hys")


def hog(image, feature_vector=True, **_):
    """skimage.feature.hog with HOG_ARGS, same numbers (checked by self_check()), faster: the
    gradient and the cell histograms are scikit-image's own (Cython), the L2-Hys block
    normalisation, a Python loop over blocks in scikit-image, is done for all blocks at once."""
    if _hoghistogram is None:
        return skimage_hog(image, feature_vector=feature_vector, **HOG_ARGS)
    image = np.asarray(image, dtype=np.float32)
    g_row, g_col = _hog_channel_gradient(image)
    s_row, s_col = image.shape
    n_row, n_col = s_row // CELL, s_col // CELL
    nbins = HOG_ARGS["orientations"]
    hist = np.zeros((n_row, n_col, nbins), dtype=float)
    _hoghistogram.hog_histograms(g_col.astype(float), g_row.astype(float), CELL, CELL, s_col,
                                 s_row, n_col, n_row, nbins, hist)
    blocks = np.lib.stride_tricks.sliding_window_view(hist, (2, 2), axis=(0, 1))
    blocks = blocks.transpose(0, 1, 3, 4, 2)  # (by, bx, 2, 2, nbins) as scikit-image orders it
    eps = 1e-5
    norm = np.sqrt((blocks ** 2).sum(axis=(2, 3, 4), keepdims=True) + eps ** 2)
    out = np.minimum(blocks / norm, 0.2)
    out = out / np.sqrt((out ** 2).sum(axis=(2, 3, 4), keepdims=True) + eps ** 2)
    out = out.astype(np.float32)
    return out.ravel() if feature_vector else out


def self_check():
    """hog() gives scikit-image's numbers."""
    rng = np.random.default_rng(1)
    img = rng.random((70, 53)).astype(np.float32)
    a = hog(img, feature_vector=False)
    b = skimage_hog(img, feature_vector=False, **HOG_ARGS)
    assert a.shape == b.shape and np.allclose(a, b, atol=1e-5), "hog() differs from skimage's"


def load_grey(path):
    return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255.0


def iou_one_to_many(box, boxes):
    """box: [x, y, w, h]; boxes: (n, 4) -> (n,) IoU."""
    if len(boxes) == 0:
        return np.zeros(0)
    b = np.asarray(boxes, dtype=float)
    x0 = np.maximum(box[0], b[:, 0])
    y0 = np.maximum(box[1], b[:, 1])
    x1 = np.minimum(box[0] + box[2], b[:, 0] + b[:, 2])
    y1 = np.minimum(box[1] + box[3], b[:, 1] + b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    return inter / (box[2] * box[3] + b[:, 2] * b[:, 3] - inter)


class Window:
    """The detection window: its size in cells, and how a box maps into it."""

    def __init__(self, aspect):
        # aspect = w / h of the boxes; the short side is kept at WIN_SHORT_MIN or more, so that
        # the one-cell stride stays a small part of an elongated object's thickness
        if aspect >= 1:
            h = max(WIN_LONG / aspect, WIN_SHORT_MIN)
            w = h * aspect
        else:
            w = max(WIN_LONG * aspect, WIN_SHORT_MIN)
            h = w / aspect
        self.cw = max(2, int(round(w / CELL)))
        self.ch = max(2, int(round(h / CELL)))
        self.w, self.h = self.cw * CELL, self.ch * CELL
        # the box inside the window, in window pixels
        self.bw = self.w / (1 + 2 * MARGIN)
        self.bh = self.h / (1 + 2 * MARGIN)

    def crop_of_box(self, box):
        """The image region [x0, y0, x1, y1] that the window sees when it holds `box`."""
        x, y, w, h = box
        return [x - MARGIN * w, y - MARGIN * h, x + w + MARGIN * w, y + h + MARGIN * h]

    def features(self, padded, region):
        """HOG of `region` (image coordinates) of an image padded by PAD (see pad()), resized to
        the window."""
        x0, y0, x1, y1 = (min(max(v + PAD, 0), lim) for v, lim in zip(
            region, (padded.width, padded.height) * 2))
        patch = padded.transform((self.w, self.h), Image.EXTENT, (x0, y0, x1, y1),
                                 resample=Image.BILINEAR)
        a = np.asarray(patch, dtype=np.float32)
        return hog(a).astype(np.float32)


def pad(grey):
    """The image with PAD px of replicated edge around it, as a Pillow float image."""
    return Image.fromarray(np.pad(grey, PAD, mode="edge"))


def read_dataset(root):
    """[(image path, [annotation, ...])] over every split's COCO file."""
    ann_dir = os.path.join(root, "annotations")
    out = []
    for name in sorted(os.listdir(ann_dir)):
        if not (name.startswith("instances_") and name.endswith(".json")):
            continue
        split = name[len("instances_"):-len(".json")]
        with open(os.path.join(ann_dir, name)) as f:
            data = json.load(f)
        by_image = {im["id"]: [] for im in data["images"]}
        for a in data["annotations"]:
            by_image[a["image_id"]].append(a)
        for im in data["images"]:
            out.append((os.path.join(root, "images", split, im["file_name"]), by_image[im["id"]]))
    if not out:
        raise SystemExit(f"detector: no annotations/instances_*.json with images under {root}")
    return out


def usable(a):
    w, h = a["bbox"][2], a["bbox"][3]
    return w >= MIN_BOX and h >= MIN_BOX and a.get("visibility", 1.0) >= MIN_VISIBILITY


def box_size(w, h):
    """An object's size: the geometric mean of its box sides (a 360 x 90 blade is 180)."""
    return float(np.sqrt(w * h))


def pyramid_scales(short_side, win, lo=None, hi=None):
    """Image scale factors that bring objects whose size (box_size) is in [lo, hi] px (default:
    OBJ_RANGE x short_side, at least MIN_OBJECT_PX) to the window's box size."""
    lo = max(OBJ_RANGE[0] * short_side, MIN_OBJECT_PX) if lo is None else lo
    hi = OBJ_RANGE[1] * short_side if hi is None else hi
    box = box_size(win.bw, win.bh)
    scales = []
    s = box / hi  # largest objects: smallest image
    while box / s >= lo * 0.999:
        scales.append(s)
        s *= SCALE_STEP
    return scales


def dense_scores(grey, win, weights, bias, scales):
    """Slide the window over every pyramid level. Returns boxes (n, 4) [x, y, w, h] and scores."""
    h0, w0 = grey.shape
    wb = weights.reshape(win.ch - 1, win.cw - 1, 2, 2, HOG_ARGS["orientations"])
    img = Image.fromarray(grey)
    all_boxes, all_scores = [], []
    for s in scales:
        w, h = int(round(w0 * s)), int(round(h0 * s))
        if w < win.w or h < win.h:
            continue
        level = np.asarray(img.resize((w, h), Image.BILINEAR), dtype=np.float32)
        blocks = hog(level, feature_vector=False)  # (by, bx, 2, 2, 9)
        by, bx = blocks.shape[:2]
        ny, nx = by - (win.ch - 1) + 1, bx - (win.cw - 1) + 1
        if ny <= 0 or nx <= 0:
            continue
        scores = np.full((ny, nx), bias, dtype=np.float64)
        for i in range(win.ch - 1):
            for j in range(win.cw - 1):
                scores += np.tensordot(blocks[i:i + ny, j:j + nx], wb[i, j], axes=3)
        ys, xs = np.mgrid[0:ny, 0:nx]
        # window top-left at (xs, ys) cells; the box sits inside it after the margin
        bx0 = (xs * CELL + MARGIN * win.bw) / s
        by0 = (ys * CELL + MARGIN * win.bh) / s
        boxes = np.stack([bx0, by0, np.full_like(bx0, win.bw / s), np.full_like(by0, win.bh / s)],
                         axis=-1).reshape(-1, 4)
        all_boxes.append(boxes)
        all_scores.append(scores.reshape(-1))
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0)
    return np.concatenate(all_boxes), np.concatenate(all_scores)


def nms(boxes, scores, iou, top_k, pre_k=3000):
    order = np.argsort(-scores)[:pre_k]
    boxes, scores = boxes[order], scores[order]
    keep = []
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        keep.append(i)
        if len(keep) == top_k:
            break
        rest = np.where(alive)[0]
        rest = rest[rest > i]
        alive[rest[iou_one_to_many(boxes[i], boxes[rest]) >= iou]] = False
    return boxes[keep], scores[keep]


class Detector:
    def __init__(self, log=print):
        self.log = log

    def train(self, dataset):
        from sklearn.svm import LinearSVC

        self_check()
        rng = np.random.default_rng(SEED)
        items = read_dataset(dataset)
        refs = [(k, a) for k, (_, anns) in enumerate(items) for a in anns if usable(a)]
        if not refs:
            raise SystemExit(f"detector: no usable boxes in {dataset}")
        aspect = float(np.median([a["bbox"][2] / a["bbox"][3] for _, a in refs]))
        self.win = win = Window(aspect)
        if len(refs) > MAX_POS_BOXES:
            keep = set(rng.choice(len(refs), size=MAX_POS_BOXES, replace=False).tolist())
            refs = [r for i, r in enumerate(refs) if i in keep]
        pos_by_image = {}
        for k, a in refs:
            pos_by_image.setdefault(k, []).append(a)
        neg_per_image = int(np.ceil(NEG_TOTAL / len(items)))
        pos, neg = [], []
        for k, (path, anns) in enumerate(items):
            grey = load_grey(path)
            gh, gw = grey.shape
            padded, flipped = pad(grey), pad(grey[:, ::-1])
            for a in pos_by_image.get(k, []):
                x, y, w, h = a["bbox"]
                pos.append(win.features(padded, win.crop_of_box(a["bbox"])))
                pos.append(win.features(flipped, win.crop_of_box([gw - x - w, y, w, h])))
            all_boxes = np.array([a["bbox"] for a in anns], dtype=float).reshape(-1, 4)
            short = min(gw, gh)
            for _ in range(neg_per_image):
                for _try in range(20):
                    size = short * np.exp(rng.uniform(np.log(0.05), np.log(0.9)))
                    ratio = np.sqrt(win.bw / win.bh)
                    bw, bh = size * ratio, size / ratio
                    if bw > gw or bh > gh:
                        continue
                    box = [rng.uniform(0, gw - bw), rng.uniform(0, gh - bh), bw, bh]
                    if len(all_boxes) == 0 or iou_one_to_many(box, all_boxes).max() < 0.3:
                        neg.append(win.features(padded, win.crop_of_box(box)))
                        break
        self.log(f"  window {win.w}x{win.h} px (box aspect {aspect:.2f}), "
                 f"{len(pos)} positives, {len(neg)} random negatives from {len(items)} images")
        self._fit(pos, neg, LinearSVC)
        # one round of hard negatives on synthetic images, over the same pyramid as detection
        pick = rng.choice(len(items), size=min(MINE_IMAGES, len(items)), replace=False)
        hard, hard_scores = [], []
        for k in sorted(pick.tolist()):
            path, anns = items[k]
            grey = load_grey(path)
            padded = pad(grey)
            all_boxes = np.array([a["bbox"] for a in anns], dtype=float).reshape(-1, 4)
            scales = pyramid_scales(min(grey.shape), win)
            cand, sc = dense_scores(grey, win, self.coef, self.bias, scales)
            sel = np.where(sc > -1.0)[0]
            if len(sel) == 0:
                continue
            sel = sel[np.argsort(-sc[sel])][:300]
            cand, sc = nms(cand[sel], sc[sel], 0.7, 60)
            for box, s in zip(cand, sc):
                if len(all_boxes) == 0 or iou_one_to_many(box, all_boxes).max() < 0.3:
                    hard.append(win.features(padded, win.crop_of_box(box)))
                    hard_scores.append(s)
        order = np.argsort(-np.asarray(hard_scores))[:MINE_MAX]
        hard = [hard[i] for i in order]
        self.log(f"  hard negatives: {len(hard)} (score > -1) from {len(pick)} images")
        self._fit(pos, neg + hard, LinearSVC)
        return self

    def _fit(self, pos, neg, svc):
        x = np.concatenate([np.asarray(pos), np.asarray(neg)])
        y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
        clf = svc(C=SVM_C, class_weight="balanced", random_state=SEED, max_iter=5000, dual=True)
        clf.fit(x, y)
        self.coef = clf.coef_.ravel().astype(np.float64)
        self.bias = float(clf.intercept_[0])

    def detect(self, grey):
        scales = pyramid_scales(min(grey.shape), self.win)
        boxes, scores = dense_scores(grey, self.win, self.coef, self.bias, scales)
        h, w = grey.shape
        # clip to the image (a window may hang over the border by its margin)
        x0 = np.clip(boxes[:, 0], 0, w)
        y0 = np.clip(boxes[:, 1], 0, h)
        x1 = np.clip(boxes[:, 0] + boxes[:, 2], 0, w)
        y1 = np.clip(boxes[:, 1] + boxes[:, 3], 0, h)
        boxes = np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)
        return nms(boxes, scores, NMS_IOU, TOP_K)


def evaluate(det, gt_path, photos):
    """Detections on every image of gt_path, COCOeval. Returns (metrics, detections)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
    cat = gt.getCatIds()[0]
    dets = []
    for im in gt.loadImgs(gt.getImgIds()):
        grey = load_grey(os.path.join(photos, im["file_name"]))
        boxes, scores = det.detect(grey)
        for b, s in zip(boxes, scores):
            dets.append({"image_id": im["id"], "category_id": cat,
                         "bbox": [round(float(v), 2) for v in b], "score": float(s)})
    if not dets:
        return {"AP50": 0.0, "AP": 0.0, "detections": 0}, dets
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [float(max(v, 0.0)) for v in ev.stats]
    return {"AP": stats[0], "AP50": stats[1], "AP75": stats[2], "AR100": stats[8],
            "detections": len(dets)}, dets


def run(dataset, gt_path, photos, log=print):
    det = Detector(log).train(dataset)
    metrics, dets = evaluate(det, gt_path, photos)
    metrics["window"] = [det.win.w, det.win.h]
    return metrics, dets


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset")
    ap.add_argument("gt")
    ap.add_argument("photos")
    ap.add_argument("--out", help="write the detections (COCO results format) here")
    args = ap.parse_args()
    metrics, dets = run(args.dataset, args.gt, args.photos)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dets, f)
    print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The detector users train: ultralytics YOLO (yolo11n, built from its yaml: no weights are
downloaded), trained on the CPU on a synthetic set and/or labelled real photos, scored on held-out
labelled photos with pycocotools.

    python3 bench/simreal/yolo.py train OUT [--dataset DIR ...] [--real GT.json PHOTOS [--ids 1,2]]
        [--init WEIGHTS] [--epochs 30] [--imgsz 256] [--budget 9000]
    python3 bench/simreal/yolo.py score WEIGHTS GT.json PHOTOS [--ids 3,4] [--imgsz 256]

Fixed settings, so that the only thing that changes between the benchmark's conditions is the
training data:
- model `yolo11n.yaml` (2.6 M parameters), one class, from scratch (`pretrained=False`), or from
  WEIGHTS (fine-tuning: `pretrained=WEIGHTS`, the same schedule and budget; with
  `pretrained=False` ultralytics rebuilds a loaded .pt from its yaml and trains it from scratch);
- ultralytics' default training recipe (SGD/AdamW chosen by its `optimizer=auto`, mosaic, HSV,
  flips, scale and translation jitter, mosaic off for the last 10 epochs), `imgsz` 256 unless
  the target says otherwise, batch 16, `seed=0`, `deterministic=True`, CPU, `workers=0`, no
  per-epoch validation and no plots;
- a budget of image-iterations rather than epochs: every training sees BUDGET images (default
  9,000: 30 epochs of a 300-image synthetic set). A small set (5 photos) is repeated in the
  image list until it fills an epoch of about 300 images, so that "real only, 5 photos" gets
  the same compute as "synthetic only" and is not starved of steps;
- scoring: `predict` at the same imgsz, conf 0.001, IoU 0.7, at most 100 boxes an image (the
  settings of ultralytics' own `val`), then COCOeval (bbox) on the chosen photos of GT.json:
  AP (0.50:0.95), AP50, AP75, AR100. Boxes in the photo's pixels.
ultralytics' `settings` (runs and weights folders) are left alone: everything goes under OUT.
"""
import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import time

EPOCH_IMAGES = 300
BUDGET = 9000
IMGSZ = 256
BATCH = 16
SEED = 0


def quiet_ultralytics():
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    from ultralytics.utils import LOGGER, SETTINGS
    import logging
    LOGGER.setLevel(logging.WARNING)
    # no telemetry, no hub: nothing can be reached from here anyway
    SETTINGS.update({"sync": False})


def read_rendergan(root):
    """[(image path, [[x, y, w, h], ...], width, height)] over every split of a rendergan dataset
    (annotations/instances_<split>.json, images/<split>/)."""
    ann_dir = os.path.join(root, "annotations")
    out = []
    for name in sorted(os.listdir(ann_dir)):
        if not (name.startswith("instances_") and name.endswith(".json")):
            continue
        split = name[len("instances_"):-len(".json")]
        with open(os.path.join(ann_dir, name)) as f:
            data = json.load(f)
        boxes = {im["id"]: [] for im in data["images"]}
        for a in data["annotations"]:
            if not a.get("iscrowd"):
                boxes[a["image_id"]].append(a["bbox"])
        for im in data["images"]:
            out.append((os.path.join(root, "images", split, im["file_name"]), boxes[im["id"]],
                        im["width"], im["height"]))
    if not out:
        raise SystemExit(f"yolo.py: no annotations/instances_*.json with images under {root}")
    return out


def read_coco(gt_path, photos, ids=None):
    """The same list for the photos of a COCO file (only `ids` when given). Ignore regions
    (iscrowd) are left out: YOLO has no way to say "don't care", so they count as background."""
    with open(gt_path) as f:
        data = json.load(f)
    keep = None if ids is None else set(ids)
    boxes = {im["id"]: [] for im in data["images"]}
    for a in data["annotations"]:
        if not a.get("iscrowd") and a["image_id"] in boxes:
            boxes[a["image_id"]].append(a["bbox"])
    return [(os.path.join(photos, im["file_name"]), boxes[im["id"]], im["width"], im["height"])
            for im in sorted(data["images"], key=lambda im: im["id"])
            if keep is None or im["id"] in keep]


def write_yolo(items, folder, tag):
    """Links the images into folder/images/ and writes their YOLO labels beside them (ultralytics
    finds labels by swapping `images` for `labels` in the path). Returns the image paths."""
    img_dir = os.path.join(folder, "images")
    lab_dir = os.path.join(folder, "labels")
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(lab_dir, exist_ok=True)
    paths = []
    for i, (src, boxes, w, h) in enumerate(items):
        stem = f"{tag}_{i:06d}"
        dst = os.path.join(img_dir, stem + os.path.splitext(src)[1].lower())
        if os.path.lexists(dst):
            os.remove(dst)
        os.symlink(os.path.abspath(src), dst)
        with open(os.path.join(lab_dir, stem + ".txt"), "w") as f:
            for x, y, bw, bh in boxes:
                x0, y0 = max(0.0, x), max(0.0, y)
                x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
                if x1 - x0 < 1 or y1 - y0 < 1:
                    continue
                f.write(f"0 {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} "
                        f"{(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}\n")
        paths.append(dst)
    return paths


def train(out, datasets=(), real=None, init=None, budget=BUDGET, imgsz=IMGSZ, name="class",
          log=print, seed=SEED):
    """Trains YOLO on the union of `datasets` (rendergan folders) and `real` ((gt, photos, ids)),
    from scratch or from `init`; returns the path of the final weights. The image list repeats a
    small set to about EPOCH_IMAGES images an epoch; epochs = budget / images an epoch."""
    quiet_ultralytics()
    from ultralytics import YOLO

    shutil.rmtree(out, ignore_errors=True)
    data_dir = os.path.join(out, "data")
    paths = []
    for i, d in enumerate(datasets):
        paths += write_yolo(read_rendergan(d), data_dir, f"s{i}")
    if real is not None:
        gt, photos, ids = real
        paths += write_yolo(read_coco(gt, photos, ids), data_dir, "r")
    if not paths:
        raise SystemExit("yolo.py: nothing to train on")
    reps = max(1, round(EPOCH_IMAGES / len(paths)))
    epoch_list = paths * reps
    epochs = max(1, round(budget / len(epoch_list)))
    with open(os.path.join(out, "train.txt"), "w") as f:
        f.write("\n".join(epoch_list) + "\n")
    # ultralytics always validates the final weights once; four images keep that cheap (the
    # benchmark scores the photos itself)
    with open(os.path.join(out, "val.txt"), "w") as f:
        f.write("\n".join(paths[:4]) + "\n")
    with open(os.path.join(out, "data.yaml"), "w") as f:
        f.write(f"path: {os.path.abspath(out)}\ntrain: train.txt\nval: val.txt\n"
                f"names:\n  0: {name}\n")
    model = YOLO(init if init else "yolo11n.yaml")
    log(f"    yolo: {len(paths)} images x{reps}, {epochs} epochs at {imgsz}"
        + (f", from {init}" if init else ", from scratch"))
    t0 = time.time()
    with contextlib.redirect_stdout(io.StringIO()):
        model.train(data=os.path.join(out, "data.yaml"), epochs=epochs, imgsz=imgsz, batch=BATCH,
                    device="cpu", workers=0, seed=seed, deterministic=True, plots=False,
                    val=False, project=os.path.abspath(out), name="run", exist_ok=True,
                    pretrained=init if init else False, amp=False, verbose=False,
                    close_mosaic=min(10, epochs // 3))
    weights = os.path.join(out, "run", "weights", "last.pt")
    meta = {"images": len(paths), "repeats": reps, "epochs": epochs, "imgsz": imgsz,
            "budget": budget, "init": init, "seed": seed, "seconds": round(time.time() - t0, 1)}
    with open(os.path.join(out, "yolo_train.json"), "w") as f:
        json.dump(meta, f)
    return weights, meta


def score(weights, gt_path, photos, ids=None, imgsz=IMGSZ):
    """COCOeval of the weights' detections on the photos of gt_path (only `ids` when given).
    Returns (metrics, detections in COCO results format)."""
    quiet_ultralytics()
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    from ultralytics import YOLO

    model = YOLO(weights)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
    cat = gt.getCatIds()[0]
    img_ids = sorted(gt.getImgIds()) if ids is None else sorted(ids)
    dets = []
    for im in gt.loadImgs(img_ids):
        res = model.predict(os.path.join(photos, im["file_name"]), imgsz=imgsz, conf=0.001,
                            iou=0.7, max_det=100, device="cpu", verbose=False)[0]
        xyxy = res.boxes.xyxy.numpy()
        conf = res.boxes.conf.numpy()
        for (x0, y0, x1, y1), s in zip(xyxy, conf):
            dets.append({"image_id": im["id"], "category_id": cat,
                         "bbox": [round(float(x0), 2), round(float(y0), 2),
                                  round(float(x1 - x0), 2), round(float(y1 - y0), 2)],
                         "score": round(float(s), 5)})
    if not dets:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "AR100": 0.0, "detections": 0}, dets
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = img_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [float(max(v, 0.0)) for v in ev.stats]
    return {"AP": stats[0], "AP50": stats[1], "AP75": stats[2], "AR100": stats[8],
            "detections": len(dets)}, dets


def ids_arg(s):
    return None if not s else [int(v) for v in s.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("out")
    t.add_argument("--dataset", action="append", default=[])
    t.add_argument("--real", nargs=2, metavar=("GT", "PHOTOS"))
    t.add_argument("--ids", type=ids_arg)
    t.add_argument("--init")
    t.add_argument("--budget", type=int, default=BUDGET)
    t.add_argument("--imgsz", type=int, default=IMGSZ)
    t.add_argument("--seed", type=int, default=SEED)
    s = sub.add_parser("score")
    s.add_argument("weights")
    s.add_argument("gt")
    s.add_argument("photos")
    s.add_argument("--ids", type=ids_arg)
    s.add_argument("--imgsz", type=int, default=IMGSZ)
    args = ap.parse_args()
    if args.cmd == "train":
        real = (args.real[0], args.real[1], args.ids) if args.real else None
        weights, meta = train(args.out, args.dataset, real, args.init, args.budget, args.imgsz,
                              seed=args.seed)
        print(json.dumps({"weights": weights, **meta}))
    else:
        metrics, _ = score(args.weights, args.gt, args.photos, args.ids, args.imgsz)
        print(json.dumps(metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

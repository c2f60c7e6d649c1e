"""Checks a rendergan dataset with the real clients: pycocotools loads the COCO files, every RLE
decodes to exactly the pixels of its instance in the mask PNG, COCOeval scores the ground truth
as detections at AP = 1.0 (bbox and segm), and the YOLO labels follow ultralytics' format.

usage: python3 .ci/interop.py output/quickstart
"""
import contextlib
import io
import json
import os
import sys

import numpy as np
import yaml
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def check_coco(root, split):
    path = os.path.join(root, "annotations", f"instances_{split}.json")
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(path)
    imgs = coco.loadImgs(coco.getImgIds())
    anns = coco.loadAnns(coco.getAnnIds())
    if not imgs:
        return 0, 0  # an empty split (e.g. split.val: 0) is valid
    for img in imgs:
        f = os.path.join(root, "images", split, img["file_name"])
        w, h = Image.open(f).size
        assert (w, h) == (img["width"], img["height"]), f"{f}: size {w}x{h} != COCO {img}"
    # objects placed on a parent (manifest `parent`), so a `label: group` annotation can be
    # checked against the union of its own and its descendants' pixels
    parents = {}
    with open(os.path.join(root, "manifest.jsonl")) as fh:
        for line in fh:
            e = json.loads(line)
            parents[os.path.basename(e["file"])] = {o["id"]: o.get("parent") for o in e["objects"]}
    masks = {}
    for a in anns:
        img = coco.imgs[a["image_id"]]
        if img["id"] not in masks:
            m = os.path.join(root, "masks", split, img["file_name"])
            masks[img["id"]] = np.array(Image.open(m)).astype(np.int64)
        inst = masks[img["id"]] == a["instance_id"]
        dec = mask_utils.decode(a["segmentation"]).astype(bool)
        if not (dec == inst).all():
            links = parents[img["file_name"]]

            def under(i):
                while i is not None:
                    if i == a["instance_id"]:
                        return True
                    i = links.get(i)
                return False

            group = [i for i in links if under(i)]
            inst = np.isin(masks[img["id"]], group)
        assert (dec == inst).all(), f"annotation {a['id']}: RLE differs from mask pixels of instance {a['instance_id']}"
        assert int(mask_utils.area(a["segmentation"])) == int(inst.sum()) == a["area"], f"annotation {a['id']}: area mismatch"
        bb = [int(round(v)) for v in mask_utils.toBbox(a["segmentation"])]
        assert bb == a["bbox"], f"annotation {a['id']}: bbox {a['bbox']} != RLE box {bb}"
        assert a["iscrowd"] == 0
        if "keypoints" in a:
            cat = coco.cats[a["category_id"]]
            assert len(a["keypoints"]) == 3 * len(cat["keypoints"])
    if not anns:
        return len(imgs), 0
    for iou in ("bbox", "segm"):
        dets = [dict(a, score=1.0) for a in anns]
        with contextlib.redirect_stdout(io.StringIO()):
            dt = coco.loadRes(dets)
            ev = COCOeval(coco, dt, iou)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        ap = ev.stats[0]
        assert abs(ap - 1.0) < 1e-9, f"{split} {iou}: AP {ap} with ground truth as detections, expected 1.0"
    return len(imgs), len(anns)


def check_yolo(root):
    with open(os.path.join(root, "data.yaml")) as f:
        data = yaml.safe_load(f)
    names = data["names"]
    nc = len(names)
    assert "path" not in data, "data.yaml has a path: a moved or copied dataset would read the original"
    kpt = data.get("kpt_shape")
    if kpt:
        flip = data.get("flip_idx")
        assert flip is None or sorted(flip) == list(range(kpt[0])), f"flip_idx {flip} is no permutation"
        assert flip is None or all(flip[flip[i]] == i for i in range(kpt[0])), f"flip_idx {flip} swaps no pairs"
    lines = 0
    for split in ("train", "val"):
        img_dir = os.path.join(root, "images", split)
        if not os.path.isdir(img_dir):
            continue  # no images in this split (e.g. split.val: 0): no folder
        for name in sorted(os.listdir(img_dir)):
            lab = os.path.join(root, "labels", split, os.path.splitext(name)[0] + ".txt")
            assert os.path.isfile(lab), f"{lab}: missing label file for {name}"
            for ln in open(lab).read().splitlines():
                parts = ln.split()
                cls = int(parts[0])
                assert 0 <= cls < nc, f"{lab}: class {cls} outside 0..{nc - 1}"
                vals = [float(v) for v in parts[1:]]
                if kpt:
                    assert len(vals) == 4 + kpt[0] * kpt[1], f"{lab}: pose line has {len(vals)} values"
                    coords = vals[:4] + [v for i, v in enumerate(vals[4:]) if i % 3 != 2]
                elif len(vals) == 4:
                    coords = vals
                else:
                    assert len(vals) >= 6 and len(vals) % 2 == 0, f"{lab}: segment line needs >= 3 points"
                    coords = vals
                assert all(0.0 <= v <= 1.0 for v in coords), f"{lab}: coordinates outside [0, 1]: {ln}"
                lines += 1
    return lines


def ultralytics_root(yaml_file):
    """The dataset root as ultralytics' check_det_dataset (8.1+) resolves it: `path:` when given,
    else the folder of the yaml file (absolute, or relative to the working folder)."""
    with open(yaml_file) as f:
        data = yaml.safe_load(f)
    return data.get("path") or os.path.dirname(yaml_file)


def check_relocation(root):
    """Copies the dataset elsewhere, hides the original, and checks the copy's data.yaml finds
    the copy's images and labels, from an absolute and from a relative yaml path."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        moved = os.path.join(tmp, "moved")
        shutil.copytree(root, moved)
        hidden = root.rstrip("/") + ".hidden-by-interop"
        os.rename(root, hidden)
        try:
            for yaml_file in (os.path.join(moved, "data.yaml"), os.path.relpath(os.path.join(moved, "data.yaml"))):
                base = ultralytics_root(yaml_file)
                with open(yaml_file) as f:
                    data = yaml.safe_load(f)
                for k in ("train", "val"):
                    d = os.path.realpath(os.path.join(base, data[k].split("#")[0].strip()))
                    assert d.startswith(os.path.realpath(moved)), f"{yaml_file}: {k} resolves to {d}, outside the copy"
                    assert os.path.isdir(d) and os.listdir(d), f"{yaml_file}: {k} folder {d} missing or empty"
        finally:
            os.rename(hidden, root)


def check_webdataset(root):
    """Iterates the WebDataset tars with the real `webdataset` package: every image once, with
    its JSON (COCO annotations + manifest line) and mask, in index order per split."""
    import glob
    import io
    import json

    import webdataset as wds
    from PIL import Image

    total = 0
    for split in ("train", "val"):
        urls = sorted(glob.glob(os.path.join(root, "webdataset", f"{split}-*.tar")))
        names = sorted(os.listdir(os.path.join(root, "images", split))) if os.path.isdir(os.path.join(root, "images", split)) else []
        keys = []
        for s in wds.WebDataset(urls, shardshuffle=False):
            j = json.loads(s["json"])
            assert j["manifest"]["file"] == f"images/{split}/{s['__key__']}.png", j["manifest"]["file"]
            img = Image.open(io.BytesIO(s["png"]))
            if "mask.png" in s:
                assert Image.open(io.BytesIO(s["mask.png"])).size == img.size
            for a in j["annotations"]:
                assert a["image_id"] == j["manifest"]["index"]
            keys.append(s["__key__"])
        assert keys == [os.path.splitext(n)[0] for n in names], f"{split}: tar samples differ from images/{split}"
        total += len(keys)
    return total


def main():
    root = sys.argv[1]
    total = 0
    for split in ("train", "val"):
        n_img, n_ann = check_coco(root, split)
        total += n_ann
        print(f"interop: {split}: {n_img} images, {n_ann} annotations: RLE == mask PNG, bbox, area ok; COCOeval AP = 1.0")
    if os.path.isfile(os.path.join(root, "data.yaml")):
        lines = check_yolo(root)
        print(f"interop: yolo: {lines} label lines in ultralytics format")
        check_relocation(root)
        print("interop: yolo: a copied dataset's data.yaml reads the copy (original hidden)")
    if os.path.isdir(os.path.join(root, "webdataset")):
        n = check_webdataset(root)
        print(f"interop: webdataset: {n} samples read with the webdataset package")
    assert total > 0, "no annotations at all"
    print("interop: ok")


if __name__ == "__main__":
    main()

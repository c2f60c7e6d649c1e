#!/usr/bin/env python3
"""Box labels (COCO) for the fetched targets coins, sweets and boards, plus overlays to check them.

    python3 bench/simreal/make_labels.py [--cache bench/simreal/cache] [--zoom DIR]

Writes labels/{coins,sweets,boards}.json and overlays/{coins,sweets,boards}.png beside this
script. --zoom DIR also writes the close-up sheets used to check every box edge (each box at
3-8x, the box drawn on the pixels just outside it). Run fetch.sh first. Needs numpy, pillow,
scipy, scikit-image and opencv-python-headless.

How each target is labelled (see README.md, "Labels"):
- coins: watershed on the Sobel elevation map with markers "background" (< 30) and "coin"
  (> 150), holes filled, opened with a disk of 2 px; each blob over 200 px is one coin (24).
- sweets: a pixel is sweet if its HSV saturation is over 110 or its value under 100 (the white
  ground and the grey, slightly tinted shadows fall below 110), holes filled, opened (2 px);
  touching sweets are split by a watershed on the distance transform (14 sweets, 2 cut by the
  bottom border).
- boards: cv2.findChessboardCorners (9 x 6 inner corners) + cornerSubPix. The printed pattern's
  outer ring is not whole squares (left and right columns are about half a square wide, top and
  bottom rows about 0.9-1.0), so "one square outwards" would overshoot into the white margin.
  Instead the outer edge of each side is measured: along each side, the outer-ring black squares
  are sampled outwards from the inner corners and the dark-to-white crossing is found, in units
  of the local corner step; the side's median is applied to all its corners (local linear
  extrapolation, so lens distortion is followed), the four outer corners take both sides'
  offsets, and the box is the axis-aligned extent of that outline, clipped to the image.
"""
import argparse
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi
from skimage import feature, filters, measure, morphology, segmentation

HERE = os.path.dirname(os.path.abspath(__file__))
BOARD_NUMBERS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14)
# both cameras of OpenCV's stereo calibration sample: 26 photos
BOARD_FILES = ([f"left{n:02d}.jpg" for n in BOARD_NUMBERS]
               + [f"right{n:02d}.jpg" for n in BOARD_NUMBERS])
# The monitor on the left of every board photo (the camera does not move) shows the calibration
# program's own small chessboard images. They are not printed boards and are not labelled, but a
# board detector may fairly fire on them, so the screen area is an ignore region: a COCO
# annotation with iscrowd = 1 (COCOeval neither rewards nor punishes detections inside it).
# Read off a 4x zoom of left01/03/06/14 with a 20 px grid; the right camera sees the same screen
# further left (a bright window, with the corner of a chessboard image at the image's left
# edge): read off right01/06/14 the same way.
BOARD_SCREEN_IGNORE = {"left": [15, 205, 85, 165], "right": [0, 170, 100, 190]}


def board_ignore(name):
    return BOARD_SCREEN_IGNORE["right" if name.startswith("right") else "left"]


def coin_boxes(grey):
    elevation = filters.sobel(grey)
    markers = np.zeros(grey.shape, np.uint8)
    markers[grey < 30] = 1
    markers[grey > 150] = 2
    seg = segmentation.watershed(elevation, markers)
    mask = ndi.binary_fill_holes(seg == 2)
    mask = morphology.opening(mask, morphology.disk(2))
    regions = [r for r in measure.regionprops(measure.label(mask)) if r.area > 200]
    return [_bbox(r) for r in regions]


def sweet_boxes(rgb):
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    sat, val = hsv[..., 1].astype(int), hsv[..., 2].astype(int)
    mask = (sat > 110) | (val < 100)
    mask = ndi.binary_fill_holes(morphology.opening(mask, morphology.disk(2)))
    dist = ndi.distance_transform_edt(mask)
    peaks = feature.peak_local_max(
        dist, min_distance=15, labels=measure.label(mask), exclude_border=False
    )
    markers = np.zeros(mask.shape, int)
    for i, (r, c) in enumerate(peaks):
        markers[r, c] = i + 1
    seg = segmentation.watershed(-dist, markers, mask=mask)
    regions = [r for r in measure.regionprops(seg) if r.area > 100]
    return [_bbox(r) for r in sorted(regions, key=lambda r: (r.bbox[0], r.bbox[1]))]


def _bbox(region):
    y0, x0, y1, x1 = region.bbox
    return [int(x0), int(y0), int(x1 - x0), int(y1 - y0)]


def _sample(grey, pts):
    return ndi.map_coordinates(grey, [pts[:, 1], pts[:, 0]], order=1, mode="nearest")


def _side_extent(grey, inner, step):
    """Median outward extent (in corner steps) of the black squares on one side of the pattern.

    inner: (n, 2) inner corners along the side; step: (n, 2) one square outwards at each."""
    h, w = grey.shape
    s = np.arange(0.05, 1.6, 0.01)
    found = []
    for j in range(len(inner) - 1):
        mid = (inner[j] + inner[j + 1]) / 2
        v = (step[j] + step[j + 1]) / 2
        pts = mid[None] + s[:, None] * v[None]
        prof = _sample(grey, pts)
        dark = np.median(prof[(s > 0.15) & (s < 0.45)])
        # the square across the corner row has the opposite colour
        other = np.median(_sample(grey, mid[None] - np.array([0.3, 0.5, 0.7])[:, None] * v[None]))
        if not dark < other - 40:
            continue  # a white outer square: its edge against the white margin is invisible
        thr = (dark + other) / 2
        out = np.where((prof > thr) & (s > 0.3))[0]
        if len(out) == 0:
            continue
        i = out[0]
        x, y = pts[i]
        if not (0 <= x <= w - 1 and 0 <= y <= h - 1):
            continue  # the pattern runs out of the image here
        p0, p1 = prof[i - 1], prof[i]
        found.append(s[i - 1] + (thr - p0) / (p1 - p0) * (s[i] - s[i - 1]))
    if not found:
        raise RuntimeError("no black square found on one side of the pattern")
    return float(np.median(found))


def board_box(grey_u8):
    flags = cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE
    ok, corners = cv2.findChessboardCorners(grey_u8, (9, 6), flags=flags)
    if not ok:
        raise RuntimeError("findChessboardCorners found no 9x6 pattern")
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.01)
    corners = cv2.cornerSubPix(grey_u8, corners, (5, 5), (-1, -1), crit)
    p = corners.reshape(6, 9, 2).astype(float)  # rows x columns, pixel-centre coordinates
    grey = grey_u8.astype(float)
    sides = {
        "top": (p[0], p[0] - p[1]),
        "bottom": (p[5], p[5] - p[4]),
        "left": (p[:, 0], p[:, 0] - p[:, 1]),
        "right": (p[:, 8], p[:, 8] - p[:, 7]),
    }
    t = {k: _side_extent(grey, *v) for k, v in sides.items()}
    outline = [inner + t[k] * step for k, (inner, step) in sides.items()]
    for r, c, rs, cs in ((0, 0, "top", "left"), (0, 8, "top", "right"),
                         (5, 0, "bottom", "left"), (5, 8, "bottom", "right")):
        vr = p[r, c] - p[1 if r == 0 else 4, c]
        vc = p[r, c] - p[r, 1 if c == 0 else 7]
        outline.append((p[r, c] + t[rs] * vr + t[cs] * vc)[None])
    outline = np.concatenate(outline)
    h, w = grey.shape
    # corner coordinates are pixel centres; box edges are pixel boundaries
    x0, y0 = np.maximum(outline.min(0) + 0.5, 0)
    x1, y1 = outline.max(0) + 0.5
    x1, y1 = min(x1, w), min(y1, h)
    box = [round(float(x0), 1), round(float(y0), 1), round(float(x1 - x0), 1),
           round(float(y1 - y0), 1)]
    return box, t, outline


def coco(images, category, ignore=None):
    """ignore: None, or a function of the file name giving an ignore region (iscrowd 1)."""
    out = {
        "info": {"description": f"simreal target boxes ({category}), made by make_labels.py"},
        "images": [],
        "annotations": [],
        "categories": [{"id": 1, "name": category, "supercategory": "thing"}],
    }
    for i, (name, (w, h), boxes) in enumerate(images, start=1):
        out["images"].append({"id": i, "file_name": name, "width": w, "height": h})
        for b in boxes:
            out["annotations"].append({
                "id": len(out["annotations"]) + 1, "image_id": i, "category_id": 1,
                "bbox": b, "area": round(b[2] * b[3], 1), "iscrowd": 0,
            })
        if ignore:
            region = ignore(name)
            out["annotations"].append({
                "id": len(out["annotations"]) + 1, "image_id": i, "category_id": 1,
                "bbox": region, "area": round(region[2] * region[3], 1), "iscrowd": 1,
            })
    return out


def draw_boxes(img, boxes, color=(255, 0, 0), scale=1.0, numbers=True):
    img = img.convert("RGB")
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
    d = ImageDraw.Draw(img)
    for i, (x, y, w, h) in enumerate(boxes):
        d.rectangle([x * scale - 1, y * scale - 1, (x + w) * scale, (y + h) * scale], outline=color)
        if numbers:
            d.text((x * scale + 2, y * scale + 1), str(i + 1), fill=color)
    return img


def zoom_sheet(img, boxes, path, zoom=4, margin=6, cols=6):
    """Each box cropped with a margin, enlarged, outline on the pixels just outside the box."""
    img = img.convert("RGB")
    tiles = []
    for i, (x, y, w, h) in enumerate(boxes):
        x0, y0 = max(0, int(x) - margin), max(0, int(y) - margin)
        x1 = min(img.width, int(np.ceil(x + w)) + margin)
        y1 = min(img.height, int(np.ceil(y + h)) + margin)
        t = img.crop((x0, y0, x1, y1)).resize(((x1 - x0) * zoom, (y1 - y0) * zoom), Image.NEAREST)
        d = ImageDraw.Draw(t)
        d.rectangle([(x - x0) * zoom - 1, (y - y0) * zoom - 1, (x + w - x0) * zoom,
                     (y + h - y0) * zoom], outline=(255, 0, 0))
        d.text((2, 2), str(i + 1), fill=(255, 255, 0))
        tiles.append(t)
    cw, ch = max(t.width for t in tiles), max(t.height for t in tiles)
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cw * cols, ch * rows), (40, 40, 40))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * cw, (i // cols) * ch))
    sheet.save(path)


def board_edge_sheet(items, path, zoom=5, half=20, cols=8):
    """For each board, 40x40 px around the outline point that sets each box side (L, R, T, B)."""
    tiles = []
    for name, img, box, outline in items:
        x, y, w, h = box
        for tag, idx in (("L", outline[:, 0].argmin()), ("R", outline[:, 0].argmax()),
                         ("T", outline[:, 1].argmin()), ("B", outline[:, 1].argmax())):
            cx, cy = int(outline[idx, 0]) - half, int(outline[idx, 1]) - half
            t = img.convert("RGB").crop((cx, cy, cx + 2 * half, cy + 2 * half))
            t = t.resize((2 * half * zoom, 2 * half * zoom), Image.NEAREST)
            d = ImageDraw.Draw(t)
            d.rectangle([(x - cx) * zoom, (y - cy) * zoom, (x + w - cx) * zoom,
                         (y + h - cy) * zoom], outline=(255, 0, 0))
            d.text((2, 2), name[4:6] + tag, fill=(255, 255, 0))
            tiles.append(t)
    size = 2 * half * zoom
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (size * cols, size * rows), (40, 40, 40))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * size, (i // cols) * size))
    sheet.save(path)


def save_small(img, path, colors=128):
    """Overlays go into the repository: a palette PNG keeps them small."""
    img.convert("RGB").quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cache", default=os.path.join(HERE, "cache"))
    ap.add_argument("--zoom", help="also write close-up check sheets into this folder")
    args = ap.parse_args()
    os.makedirs(os.path.join(HERE, "labels"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "overlays"), exist_ok=True)
    if args.zoom:
        os.makedirs(args.zoom, exist_ok=True)

    # coins
    img = Image.open(os.path.join(args.cache, "coins", "coins.png"))
    boxes = coin_boxes(np.asarray(img.convert("L")))
    assert len(boxes) == 24, f"coins: expected 24 coins, found {len(boxes)}"
    write("coins", coco([("coins.png", img.size, boxes)], "coin"))
    save_small(draw_boxes(img, boxes, scale=2), os.path.join(HERE, "overlays", "coins.png"),
               colors=48)
    if args.zoom:
        zoom_sheet(img, boxes, os.path.join(args.zoom, "coins_zoom.png"), zoom=3, cols=6)

    # sweets
    img = Image.open(os.path.join(args.cache, "sweets", "smarties.png")).convert("RGB")
    boxes = sweet_boxes(np.asarray(img))
    assert len(boxes) == 14, f"sweets: expected 14 sweets, found {len(boxes)}"
    write("sweets", coco([("smarties.png", img.size, boxes)], "sweet"))
    save_small(draw_boxes(img, boxes, color=(0, 0, 0), scale=2),
               os.path.join(HERE, "overlays", "sweets.png"))
    if args.zoom:
        zoom_sheet(img, boxes, os.path.join(args.zoom, "sweets_zoom.png"), zoom=4, cols=5)

    # boards
    images, items, thumbs = [], [], []
    for name in BOARD_FILES:
        img = Image.open(os.path.join(args.cache, "boards", name)).convert("L")
        box, t, outline = board_box(np.asarray(img))
        print(f"boards {name}: box {box}, outer ring in corner steps "
              + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
        images.append((name, img.size, [box]))
        items.append((name, img, box, outline))
        th = draw_boxes(img, [box], scale=0.4, numbers=False)
        th = draw_boxes(th, [[v * 0.4 for v in board_ignore(name)]], color=(255, 200, 0),
                        numbers=False)
        ImageDraw.Draw(th).text((4, 4), name, fill=(255, 255, 0))
        thumbs.append(th)
    write("boards", coco(images, "board", ignore=board_ignore))
    cols = 4
    sheet = Image.new("RGB", (256 * cols, 192 * ((len(thumbs) + cols - 1) // cols)), (40, 40, 40))
    for i, th in enumerate(thumbs):
        sheet.paste(th, ((i % cols) * 256, (i // cols) * 192))
    save_small(sheet, os.path.join(HERE, "overlays", "boards.png"), colors=32)
    if args.zoom:
        board_edge_sheet(items, os.path.join(args.zoom, "boards_edges.png"))
    return 0


def write(target, data):
    path = os.path.join(HERE, "labels", f"{target}.json")
    with open(path, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    n = sum(1 for a in data["annotations"] if not a["iscrowd"])
    print(f"{target}: {n} boxes in {len(data['images'])} image(s) -> {os.path.relpath(path)}")


if __name__ == "__main__":
    sys.exit(main())

"""Makes the README galleries from a generated dataset (needs Pillow and numpy).

  python3 docs/gallery.py labels  OUT_DIR docs/gallery_x.png [--n 8] [--title "..."]
      images beside themselves with every labelled instance's mask outline (the box of a
      `label: group` object) in its class colour, and a legend
  python3 docs/gallery.py anomaly OUT_DIR docs/gallery_x.png [--n 8]
      images from anomaly/test/<defect>/ beside themselves with their ground-truth mask in red,
      one or two per defect class
"""
import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLORS = [(255, 80, 80), (80, 200, 255), (255, 220, 60), (255, 120, 255), (120, 255, 120),
          (255, 160, 60), (160, 120, 255), (255, 255, 255)]


def outline(mask):
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def labels(out, dest, n, title):
    out = Path(out)
    entries = [json.loads(l) for l in open(out / "manifest.jsonl")]
    classes = []
    for e in entries:
        for o in e["objects"]:
            if o["class"] is not None and o["class"] not in classes:
                classes.append(o["class"])
    tiles = []
    for e in entries[:n]:
        name = Path(e["file"]).stem
        img = np.array(Image.open(out / e["file"]).convert("RGB"))
        ids = np.array(Image.open(out / "masks" / e["split"] / f"{name}.png")).astype(np.int64)
        ann = img.copy()
        for o in e["objects"]:
            if not o["labeled"]:
                continue
            c = COLORS[classes.index(o["class"]) % len(COLORS)]
            own = ids == o["id"]
            if own.sum() == o["visible_pixels"]:
                ann[outline(own)] = c
            elif o["bbox"]:
                # a `label: group` object: its pixels carry its children's ids; draw its box
                x, y, w, h = o["bbox"]
                ann[y, x:x + w] = c
                ann[y + h - 1, x:x + w] = c
                ann[y:y + h, x] = c
                ann[y:y + h, x + w - 1] = c
        tiles.append(np.concatenate([img, ann], 1))
    grid(tiles, dest, [(c, COLORS[i % len(COLORS)]) for i, c in enumerate(classes)], title)


def anomaly(out, dest, n):
    root = Path(out) / "anomaly"
    tiles, legend = [], []
    defects = sorted(p.name for p in (root / "test").iterdir() if p.name != "good")
    per = max(1, n // max(1, len(defects)))
    for d in defects:
        for f in sorted((root / "test" / d).glob("*.png"))[:per]:
            img = np.array(Image.open(f).convert("RGB"))
            m = np.array(Image.open(root / "ground_truth" / d / f"{f.stem}_mask.png")) > 0
            red = img.copy()
            red[m] = (230, 30, 30)
            tiles.append(np.concatenate([img, red], 1))
            legend.append(d)
    grid(tiles[:n], dest, [], "anomaly/test/<defect>/ + ground_truth mask (red): "
         + ", ".join(dict.fromkeys(legend[:n])))


def grid(tiles, dest, legend, title):
    h, w, _ = tiles[0].shape
    cols = 2 if w >= 2 * h else 4
    rows = (len(tiles) + cols - 1) // cols
    scale = max(1, 256 // h)
    top = 18
    g = Image.new("RGB", (cols * w * scale + (cols - 1) * 4, rows * h * scale + (rows - 1) * 4 + top),
                  (250, 250, 250))
    for i, t in enumerate(tiles):
        im = Image.fromarray(t).resize((w * scale, h * scale), Image.NEAREST)
        g.paste(im, ((i % cols) * (w * scale + 4), top + (i // cols) * (h * scale + 4)))
    d = ImageDraw.Draw(g)
    x = 4
    d.text((x, 3), title, fill=(0, 0, 0))
    x += int(d.textlength(title)) + 12
    for name, c in legend:
        d.rectangle([x, 5, x + 9, 14], fill=c, outline=(0, 0, 0))
        d.text((x + 13, 3), name, fill=(0, 0, 0))
        x += 13 + int(d.textlength(name)) + 12
    g.save(dest)


if __name__ == "__main__":
    a = argparse.ArgumentParser()
    a.add_argument("mode", choices=["labels", "anomaly"])
    a.add_argument("out")
    a.add_argument("dest")
    a.add_argument("--n", type=int, default=8)
    a.add_argument("--title", default="")
    args = a.parse_args()
    if args.mode == "labels":
        labels(args.out, args.dest, args.n, args.title)
    else:
        anomaly(args.out, args.dest, args.n)

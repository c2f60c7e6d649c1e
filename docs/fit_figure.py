#!/usr/bin/env python3
"""README's fit figure: for each of a few fit reports, the photos the written config covered
worst beside their nearest render as written and after the fit (the report's tiles), labelled.

    python3 docs/fit_figure.py OUT.png NAME=REPORT_DIR [NAME=REPORT_DIR ...] [--rows 2] [--per-line N]

REPORT_DIR is a `rendergan fit` report folder (FITTED.fit/, with report.json and the
worst<k>_{photo,before,after}.png tiles). Needs Pillow.
"""
import argparse
import json
import os

from PIL import Image, ImageDraw

LABEL_H = 14


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("reports", nargs="+", help="NAME=REPORT_DIR")
    ap.add_argument("--rows", type=int, default=2, help="photos per report (default 2)")
    ap.add_argument("--per-line", type=int, default=0, help="reports side by side (default all)")
    a = ap.parse_args()
    blocks = []
    for spec in a.reports:
        name, folder = spec.split("=", 1)
        with open(os.path.join(folder, "report.json")) as f:
            rep = json.load(f)
        tiles = [[Image.open(os.path.join(folder, f"worst{k}_{s}.png")).convert("RGB")
                  for s in ("photo", "before", "after")] for k in range(a.rows)]
        blocks.append((name, rep, tiles))
    side = blocks[0][2][0][0].size[0]
    gap = 6
    per = a.per_line or len(blocks)
    lines = (len(blocks) + per - 1) // per
    block_h = LABEL_H * 2 + a.rows * side
    w = min(per, len(blocks)) * (3 * side + gap) - gap
    h = lines * (block_h + gap) - gap
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    for b, (name, rep, tiles) in enumerate(blocks):
        x0 = (b % per) * (3 * side + gap)
        y0 = (b // per) * (block_h + gap)
        o = (rep["before"]["objective"], rep["after"]["objective"])
        draw.text((x0 + 2, y0 + 1), f"{name}: objective {o[0]:.2f} -> {o[1]:.2f}", fill="black")
        for c, head in enumerate(("photo", "as written", "fitted")):
            draw.text((x0 + c * side + 2, y0 + LABEL_H + 1), head, fill="black")
        for r, row in enumerate(tiles):
            for c, t in enumerate(row):
                img.paste(t.resize((side, side)),
                          (x0 + c * side, y0 + 2 * LABEL_H + r * side))
    img.save(a.out)
    print(f"fit_figure: {a.out} ({w}x{h})")


if __name__ == "__main__":
    main()

"""docs/learn_at_boards.png: the same renders raw, with a chain learned on whole 64² renders
(train --learn-at whole) and with one learned at the output's scale (the default), each
whole and a 64-px corner enlarged 3x, from bench/simreal's boards sets.

    python3 docs/learn_at_figure.py output/simreal/boards docs/learn_at_boards.png
"""
import os
import sys

from PIL import Image, ImageDraw

work, out = sys.argv[1], sys.argv[2]
sets = [("raw", "raw renders"), ("learned_whole", "learn_at: whole"),
        ("learned", "learn_at: output")]
names = ["000003.png", "000007.png"]
side, zoom, pad, head = 256, 3, 6, 18
col = side + pad + 64 * zoom
page = Image.new("RGB", (len(names) * (col + pad) + pad, len(sets) * (side + pad + head) + pad),
                 (255, 255, 255))
draw = ImageDraw.Draw(page)
for r, (d, label) in enumerate(sets):
    y = pad + r * (side + pad + head)
    draw.text((pad, y), label, fill=(0, 0, 0))
    for c, n in enumerate(names):
        im = Image.open(os.path.join(work, d, "images", "train", n)).convert("RGB")
        x = pad + c * (col + pad)
        page.paste(im, (x, y + head))
        # a 64-px window around the middle, enlarged without smoothing
        crop = im.crop((96, 96, 160, 160)).resize((64 * zoom, 64 * zoom), Image.NEAREST)
        page.paste(crop, (x + side + pad, y + head + (side - 64 * zoom) // 2))
page.save(out)

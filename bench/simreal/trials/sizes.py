#!/usr/bin/env python3
"""How many labelled objects an image holds and how large they are, from COCO files: the box
side (square root of its area) over the image height, median and middle half; to set a fitted
config's objects beside the photos' labels (bench/simreal/trials).

    python3 bench/simreal/trials/sizes.py PHOTO_LABELS.json SET/annotations/instances_train.json ...
"""
import json
import statistics
import sys

for f in sys.argv[1:]:
    d = json.load(open(f))
    height = {i["id"]: i["height"] for i in d["images"]}
    sides = [(a["bbox"][2] * a["bbox"][3]) ** 0.5 / height[a["image_id"]] for a in d["annotations"]]
    if len(sides) < 2:
        print(f"{f}: fewer than two objects")
        continue
    q = statistics.quantiles(sides, n=4)
    print(f"{f}: {len(sides) / len(d['images']):.2f} an image, box side / image height "
          f"{q[1]:.3f} ({q[0]:.3f}-{q[2]:.3f})")

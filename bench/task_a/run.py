#!/usr/bin/env python3
"""TASK-A beside pyrender, in paired runs (issue 14).

The same task both ways: 300 images of 256², 8 boxes each (sides uniform in 0.35–0.9, a random
rotation, a random position in [-1.6, 1.6]² × [-1, 1], a random colour) over a plain random
background, camera 6 units above looking straight down with a 45° vertical FOV, one directional
light; PNG images and a COCO file with RLE instance masks. Each run is a whole process (start-up
included), timed on the wall clock and in CPU time; the runs alternate so both see the same
machine. Prints one JSON line.

    python3 bench/task_a/run.py [--pairs 3] [--binary target/release/rendergan]

Needs pyrender (pip install pyrender; it renders through EGL, here Mesa's llvmpipe), pycocotools
and opencv-python-headless. Without pyrender it times rendergan alone.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = "/tmp/task_a"


def pyrender_task(out, count=300, size=256, seed=1):
    """The task with pyrender: one scene per image, colour + segmentation passes."""
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    import cv2
    import numpy as np
    import pyrender
    import trimesh
    from pycocotools import mask as mask_util

    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    renderer = pyrender.OffscreenRenderer(size, size)
    camera = pyrender.PerspectiveCamera(yfov=np.radians(45.0))
    cam_pose = np.eye(4)
    cam_pose[2, 3] = 6.0  # 6 units above, looking down -z at the origin
    images, annotations = [], []
    for i in range(count):
        bg = rng.uniform(0, 1, 3)
        scene = pyrender.Scene(bg_color=np.append(bg, 1.0), ambient_light=[0.3, 0.3, 0.3])
        scene.add(camera, pose=cam_pose)
        light_pose = trimesh.transformations.rotation_matrix(
            np.radians(rng.uniform(0, 50)), [1, 0, 0]
        )
        scene.add(pyrender.DirectionalLight(intensity=3.0), pose=light_pose)
        nodes = {}
        for k in range(8):
            box = trimesh.creation.box(extents=rng.uniform(0.35, 0.9, 3))
            pose = trimesh.transformations.random_rotation_matrix(rng.uniform(0, 1, 3))
            pose[:3, 3] = [rng.uniform(-1.6, 1.6), rng.uniform(-1.6, 1.6), rng.uniform(-1, 1)]
            material = pyrender.MetallicRoughnessMaterial(
                baseColorFactor=np.append(rng.uniform(0, 1, 3), 1.0)
            )
            node = scene.add(pyrender.Mesh.from_trimesh(box, material=material), pose=pose)
            nodes[node] = k + 1
        color, _ = renderer.render(scene)
        seg, _ = renderer.render(
            scene, flags=pyrender.RenderFlags.SEG, seg_node_map={n: (v, 0, 0) for n, v in nodes.items()}
        )
        name = f"{i:06d}.png"
        cv2.imwrite(os.path.join(out, "images", name), cv2.cvtColor(color, cv2.COLOR_RGB2BGR))
        images.append({"id": i + 1, "file_name": name, "width": size, "height": size})
        ids = seg[:, :, 0]
        for k in range(1, 9):
            m = np.asfortranarray((ids == k).astype(np.uint8))
            if not m.any():
                continue
            rle = mask_util.encode(m)
            bbox = mask_util.toBbox(rle).tolist()
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": 1,
                    "segmentation": rle,
                    "area": int(m.sum()),
                    "bbox": bbox,
                    "iscrowd": 0,
                }
            )
    os.makedirs(os.path.join(out, "annotations"), exist_ok=True)
    with open(os.path.join(out, "annotations", "instances.json"), "w") as f:
        json.dump(
            {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "box"}]},
            f,
        )
    renderer.delete()
    return len(annotations)


def timed(cmd):
    """Wall and CPU seconds of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/rendergan"))
    ap.add_argument("--pyrender-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.pyrender_only:
        pyrender_task(os.path.join(OUT, "pyrender"))
        return
    try:
        import pyrender  # noqa: F401

        have_pyrender = True
    except Exception:
        have_pyrender = False
    ours = [a.binary, "generate", "-c", os.path.join(HERE, "task_a.yaml"), "--overwrite", "-q"]
    theirs = [sys.executable, os.path.abspath(__file__), "--pyrender-only"]
    rows = []
    for _ in range(a.pairs):
        r = timed(ours)
        p = timed(theirs) if have_pyrender else (float("nan"), float("nan"))
        rows.append({"rendergan": r, "pyrender": p})
    best = lambda k, i: min(row[k][i] for row in rows)
    result = {
        "task": "TASK-A: 300 images 256², 8 boxes, PNG + COCO RLE",
        "rendergan_s": round(best("rendergan", 0), 2),
        "rendergan_cpu_s": round(best("rendergan", 1), 2),
        "rendergan_images_per_s": round(300 / best("rendergan", 0), 1),
    }
    if have_pyrender:
        result.update(
            {
                "pyrender_s": round(best("pyrender", 0), 2),
                "pyrender_cpu_s": round(best("pyrender", 1), 2),
                "pyrender_images_per_s": round(300 / best("pyrender", 0), 1),
                "wall_ratio_per_pair": [round(r["pyrender"][0] / r["rendergan"][0], 2) for r in rows],
                "cpu_ratio_per_pair": [round(r["pyrender"][1] / r["rendergan"][1], 2) for r in rows],
            }
        )
    else:
        result["note"] = "pyrender is not installed (pip install pyrender): rendergan alone"
    print(json.dumps(result))


if __name__ == "__main__":
    main()

#!/bin/sh
# The speed ratios docs/performance.md quotes, in one run on one machine (issue 14):
# TASK-A beside pyrender (bench/task_a/run.py), then generate --augment beside plain generate
# and an albumentations pipeline (bench/augment_peer.py). Two JSON lines.
#
#   cargo build --release && bench/peers.sh RUN_FOLDER
#
# RUN_FOLDER: a trained run (`rendergan train -o RUN_FOLDER`). Needs pyrender, pycocotools,
# albumentations and opencv-python-headless (pip).
set -e
cd "$(dirname "$0")/.."
[ -n "$1" ] || { echo "usage: bench/peers.sh RUN_FOLDER" >&2; exit 2; }
python3 bench/task_a/run.py --pairs 3
python3 bench/augment_peer.py --augment "$1" -n 600

#!/usr/bin/env bash
# bench/simreal/trials/pills: fit the wide pills config with and without the built-in `clutter`
# to the 21 labelled pill photos, and measure what a user cannot see from the fit alone: the
# fitted pills' size against the photos' labels, and YOLO (bench/simreal/yolo.py, one seed)
# trained on 300 images of each set and scored on the photos.
#   python3 bench/simreal/fetch_sets.py --targets pills    # the photos, once
#   bash bench/simreal/trials/pills/run.sh [WORK]          # ~60 min on 2 cores
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
WORK=${1:-$ROOT/output/trial_pills}
R=${RENDERGAN:-$ROOT/target/release/rendergan}
PHOTOS=$ROOT/bench/simreal/cache/pills
mkdir -p "$WORK"
for c in wide clutter; do
  "$R" fit -c "$HERE/pills_$c.yaml" --real "$PHOTOS/photos" -o "$WORK/pills_${c}_fitted.yaml" \
    --budget 300 --seed 1 --overwrite
done
for c in wide wide_fitted clutter_fitted; do
  cfg="$HERE/pills_$c.yaml"; [ -f "$cfg" ] || cfg="$WORK/pills_$c.yaml"
  "$R" generate -q -c "$cfg" -n 300 -o "$WORK/set_$c" --overwrite
done
python3 "$HERE/../sizes.py" "$PHOTOS/labels.json" "$WORK"/set_*/annotations/instances_train.json
for c in wide wide_fitted clutter_fitted; do
  python3 "$ROOT/bench/simreal/yolo.py" train "$WORK/yolo_$c" --dataset "$WORK/set_$c" --budget 3000 --imgsz 320
  echo "$c: $(python3 "$ROOT/bench/simreal/yolo.py" score "$WORK/yolo_$c/run/weights/last.pt" \
    "$PHOTOS/labels.json" "$PHOTOS/photos" --imgsz 320)"
done

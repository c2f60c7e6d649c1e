#!/usr/bin/env bash
# SHA-256 of every file of the quickstart and four scene datasets, for before/after checks of a
# change that must not change outputs: bench/output_hashes.sh > before.txt; (change, build);
# bench/output_hashes.sh > after.txt; diff before.txt after.txt
set -euo pipefail
cd "$(dirname "$0")/.."
B=${RENDERGAN:-target/release/rendergan}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
"$B" generate -c configs/quickstart.yaml -o "$D/quickstart" -q >/dev/null
"$B" generate -c configs/beesbook.yaml -n 100 -o "$D/beesbook" -q >/dev/null
"$B" generate -c configs/qc_plate.yaml -n 60 -o "$D/qc_plate" -q >/dev/null
"$B" generate -c configs/agriculture.yaml -n 40 -o "$D/agriculture" -q >/dev/null
"$B" generate -c configs/qc_fasteners.yaml -n 40 -o "$D/qc_fasteners" -q >/dev/null
cd "$D" && find . -type f | sort | xargs sha256sum

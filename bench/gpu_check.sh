#!/bin/sh
# Issue 14's GPU figures, for a machine with a GPU and no Rust toolchain (the device tool's
# machines): the release binary, a trained run and the Vulkan loader travel with the tree.
#
# Prepare on the build machine, in the repo's root (ignored folders; ~20 MB in all):
#   cargo build --release
#   mkdir -p .gpu && strip -o .gpu/rendergan target/release/rendergan && xz -T2 -f .gpu/rendergan
#   cp -r RUN .gpu/run                       # a trained run (rendergan train -o RUN)
#   plus .gl with the loader packages, as the device tool's README says
# Run there (carry .gpu and .gl), one call of about 5 minutes:
#   for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig; bench/gpu_check.sh
#
# Prints, and writes to $OUT (or ./gpu_check): the adapters; bench's JSON line for plain
# generate, --augment on the GPU (between render and readback) and --augment on the CPU cores;
# and how far the GPU's augmented images are from the CPU's (max level, fraction of values
# that differ; expected: 1 and about 1e-6).
set -e
cd "$(dirname "$0")/.."
out=${OUT:-gpu_check}
mkdir -p "$out"
b=.gpu/rendergan
[ -x "$b" ] || xz -dkf .gpu/rendergan.xz
chmod +x "$b"
run=.gpu/run
n=${N:-4000}
log="$out/gpu_check.jsonl"
: >"$log"
"$b" devices | tee "$out/devices.txt"
for args in "" "--augment $run --augment-on gpu" "--augment $run --augment-on cpu"; do
    # shellcheck disable=SC2086
    "$b" bench -c configs/bench.yaml -n "$n" $args | tail -n 1 | tee -a "$log"
done
for on in gpu cpu; do
    "$b" generate -c configs/quickstart.yaml -n 256 --augment "$run" --augment-on "$on" \
        -o "/tmp/gpu_check_$on" --overwrite -q
done
python3 - "$log" <<'EOF' | tee -a "$log"
import glob, json, sys
import numpy as np
from PIL import Image
worst, differ, total = 0, 0, 0
for f in sorted(glob.glob("/tmp/gpu_check_cpu/images/*/*.png")):
    a = np.asarray(Image.open(f)).astype(int)
    g = np.asarray(Image.open(f.replace("gpu_check_cpu", "gpu_check_gpu"))).astype(int)
    d = np.abs(a - g)
    worst, differ, total = max(worst, int(d.max())), differ + int((d > 0).sum()), total + d.size
print(json.dumps({"augmented_gpu_vs_cpu": {"max_levels": worst, "fraction_differ": differ / total}}))
EOF

#!/usr/bin/env bash
# Sharding on one machine: images/s and peak RSS of one process making N images vs 4 shard
# processes making the same N (run at once, as 4 cluster tasks would), then the time to merge
# the shards, and the merge time for a large run of small images.
#   bench/shards.sh [N] [MERGE_N]      (defaults 2000 and 100000)
# Prints one JSON line. Needs /usr/bin/time (GNU time) for peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${RENDERGAN:-target/release/rendergan}
N=${1:-2000}
MERGE_N=${2:-100000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
rss() { awk '/Maximum resident set size/ {print $NF}' "$1"; }
now() { date +%s.%N; }

t0=$(now)
/usr/bin/time -v "$B" generate -c configs/quickstart.yaml -n "$N" -o "$D/single" -q 2>"$D/single.time" >/dev/null
t1=$(now)
for i in 0 1 2 3; do
  /usr/bin/time -v "$B" generate -c configs/quickstart.yaml -n "$N" -o "$D/s$i" --shard "$i/4" -q \
    2>"$D/s$i.time" >/dev/null &
done
wait
t2=$(now)
"$B" merge "$D/merged" "$D"/s0 "$D"/s1 "$D"/s2 "$D"/s3 >/dev/null
t3=$(now)
same=$(diff -rq "$D/single" "$D/merged" >/dev/null && echo true || echo false)
rm -rf "$D/single" "$D/merged" "$D"/s?

# merge time for MERGE_N small images (64² tags), 4 shards
for i in 0 1 2 3; do
  "$B" generate -c configs/beesbook.yaml -n "$MERGE_N" -o "$D/b$i" --shard "$i/4" -q >/dev/null
done
t4=$(now)
/usr/bin/time -v "$B" merge "$D/bm" "$D"/b0 "$D"/b1 "$D"/b2 "$D"/b3 2>"$D/merge.time" >/dev/null
t5=$(now)
python3 - "$N" "$MERGE_N" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$same" \
  "$(rss "$D/single.time")" "$(rss "$D/s0.time")" "$(rss "$D/s1.time")" "$(rss "$D/s2.time")" \
  "$(rss "$D/s3.time")" "$(rss "$D/merge.time")" "$(nproc)" <<'PY'
import json, sys
a = sys.argv[1:]
n, mn = int(a[0]), int(a[1])
t0, t1, t2, t3, t4, t5 = map(float, a[2:8])
same = a[8] == "true"
rss_single, *rss_shards = [int(x) for x in a[9:14]]
rss_merge, cores = int(a[14]), int(a[15])
print(json.dumps({
    "config": "configs/quickstart.yaml", "images": n, "cores": cores,
    "one_process": {"seconds": round(t1 - t0, 2), "images_per_s": round(n / (t1 - t0), 1),
                    "peak_rss_mb": round(rss_single / 1024)},
    "four_shards_at_once": {"seconds": round(t2 - t1, 2), "images_per_s": round(n / (t2 - t1), 1),
                            "peak_rss_mb_each": [round(r / 1024) for r in rss_shards]},
    "merge_seconds": round(t3 - t2, 2), "merged_identical_to_one_process": same,
    "merge_large": {"config": "configs/beesbook.yaml", "images": mn, "shards": 4,
                    "seconds": round(t5 - t4, 2), "peak_rss_mb": round(rss_merge / 1024)},
}))
PY

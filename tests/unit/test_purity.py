"""Every pure module imports with ROS blocked; importing the package pulls no heavy runtime."""
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import nvb_perception

ROOT = Path(__file__).resolve().parents[2]
BLOCKED = ('rclpy', 'std_msgs', 'sensor_msgs', 'geometry_msgs', 'visualization_msgs', 'diagnostic_msgs',
           'builtin_interfaces', 'nvb_perception_msgs', 'cv_bridge', 'launch', 'launch_ros')


# ROS lives in ros/ (nodes, converters) and in the launcher's process and graph code; nowhere else
ROS_MODULES = ('nvb_perception.ros', 'nvb_perception.launcher.graph', 'nvb_perception.launcher.processes',
               'nvb_perception.launcher.runner')


def pure_modules():
    names = [m.name for m in pkgutil.walk_packages(nvb_perception.__path__, 'nvb_perception.')]
    return sorted(n for n in names if not n.startswith(ROS_MODULES))


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_there_are_pure_modules():
    assert 'nvb_perception.imaging' in pure_modules()
    assert 'nvb_perception.skeleton' in pure_modules()


@pytest.mark.parametrize('module', pure_modules())
def test_pure_module_imports_without_ros(module):
    block = '; '.join(f'sys.modules[{m!r}] = None' for m in BLOCKED)
    result = _run(f'import sys; {block}; import {module}')
    assert result.returncode == 0, result.stderr


def test_package_import_is_light():
    result = _run('import sys, nvb_perception, nvb_perception.types, nvb_perception.backends; '
                  'print(sorted(m for m in ("rclpy", "torch", "tensorrt", "onnxruntime") if m in sys.modules))')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'


def test_ros_modules_do_need_ros():
    """The purity check can fail: a ros/ module refuses to import when rclpy is blocked."""
    block = '; '.join(f'sys.modules[{m!r}] = None' for m in BLOCKED)
    result = _run(f'import sys; {block}; import nvb_perception.ros.convert')
    assert result.returncode != 0

"""launch_pytest test of launch/perception.launch.py on a full ROS 2 install.

The launch packages are not on PyPI, so on a wheels-only machine this module is skipped with the reason;
the same graph is exercised there by tests/ros/ (node executables started as processes).
"""
import os
from pathlib import Path

import pytest

launch_pytest = pytest.importorskip(
    'launch_pytest', reason='launch_pytest is not installable from PyPI; runs on a full ROS 2 install (apt)')

from launch.actions import IncludeLaunchDescription  # noqa: E402
from launch.launch_description_sources import PythonLaunchDescriptionSource  # noqa: E402
from launch_testing_ros import WaitForTopics  # noqa: E402

import launch  # noqa: E402
from nvb_perception_msgs.msg import Skeleton2DArray  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
VIDEO = Path(os.environ.get('NVB_PERCEPTION_ASSETS', ROOT / '.assets')) / 'data' / 'opencv' / 'vtest.avi'


@launch_pytest.fixture
def generate_test_description():
    include = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(ROOT / 'launch' / 'perception.launch.py')),
        launch_arguments={'video': str(VIDEO), 'params_file': str(ROOT / 'config' / 'perception.yaml')}.items())
    return launch.LaunchDescription([include, launch_pytest.actions.ReadyToTest()])


@pytest.mark.launch(fixture=generate_test_description)
def test_skeletons_are_published():
    with WaitForTopics([('skeletons_2d', Skeleton2DArray)], timeout=60.0) as wait:
        assert wait.topics_received() == {'skeletons_2d'}

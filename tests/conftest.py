"""Test configuration: DDS isolation first (before anything can create a node), then shared fixtures."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nvb_perception.netsafety import localhost_only_env  # noqa: E402


def _reserve_domain() -> int:
    """A ROS_DOMAIN_ID no other concurrent test run on this machine holds (kept for the whole session)."""
    try:
        import domain_coordinator
    except ImportError:
        return os.getpid() % 90 + 5
    global _DOMAIN_LEASE
    _DOMAIN_LEASE = domain_coordinator.domain_id()
    return int(_DOMAIN_LEASE.__enter__())


_DOMAIN_LEASE = None
# never leave the machine, one domain per run: set before rclpy is imported anywhere
localhost_only_env(domain_id=int(os.environ.get('NVB_TEST_DOMAIN_ID') or _reserve_domain()), force=True)
os.environ.setdefault('ROS_LOG_DIR', str(ROOT / 'log' / 'ros'))
os.environ.setdefault('NVB_PERCEPTION_ASSETS', str(ROOT / '.assets'))

import pytest  # noqa: E402

try:
    import rclpy  # noqa: F401
    HAVE_ROS = True
except ImportError:
    HAVE_ROS = False

collect_ignore_glob = [] if HAVE_ROS else ['ros/*', 'launch/*']


@pytest.fixture(scope='session')
def assets() -> Path:
    """The fetched real data and weights (make setup); tests needing them skip with the reason if absent."""
    path = Path(os.environ['NVB_PERCEPTION_ASSETS'])
    if not (path / 'data' / 'opencv' / 'vtest.avi').exists():
        pytest.skip(f'assets not fetched into {path}: run `make setup`')
    return path


@pytest.fixture
def log_dir(tmp_path) -> Path:
    """Where node processes of one test write their logs."""
    path = tmp_path / 'logs'
    path.mkdir()
    return path


@pytest.fixture(scope='session')
def action_head(assets, tmp_path_factory) -> Path:
    """A seeded, untrained action head, exported as nvb-export-actions does.

    Tests check plumbing and errors with it, not accuracy (`make action-model` trains a real one). Skips when
    the ViT backbone was not extracted.
    """
    import torch

    from nvb_perception.actions.backbone import BACKBONE_FILE
    from nvb_perception.actions.features import FeatureConfig
    from nvb_perception.datasets.action_labels import MOTION_CLASSES
    from nvb_perception.export.action_head import write_head
    from nvb_perception.training.action_model import ActionModelConfig, build_action_model
    if not (assets / 'models' / BACKBONE_FILE).is_file():
        pytest.skip('backbone missing: python -m nvb_perception.export.extract_vit')
    torch.manual_seed(0)
    torch.set_num_threads(1)
    config = FeatureConfig()
    model = build_action_model(ActionModelConfig(kind='flow', motion_dim=config.num_maps * 8))
    path = tmp_path_factory.mktemp('head') / 'actions_flow.onnx'
    assert write_head(model, {'classes': list(MOTION_CLASSES), 'features': config.to_json(), 'flow': 'dis',
                              'fps': 10.0}, path) <= 1e-4
    return path


@pytest.fixture(scope='session')
def astronaut_pose(assets):
    """astronaut.png (scikit-image) and her BlazePose skeleton, found in static-image mode."""
    import cv2

    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    bgr = cv2.imread(str(assets / 'data' / 'photos' / 'astronaut.png'))
    estimator = PoseEstimator.from_config(PoseConfig(static_image_mode=True, max_people=1))
    people = estimator(bgr, 0).visible
    estimator.close()
    assert len(people) == 1
    return bgr, people[0].skeleton

"""Test configuration: DDS isolation first (before anything can create a node), then shared fixtures."""
import os
import re
import sys
import warnings
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

# CI (.ci/run) sets NVB_REQUIRE_ASSETS=1: there a missing model, backbone, data file or golden is a failure,
# not a skip that would hide that a test never ran. Skips for what cannot run here (TensorRT, GPU, launch_pytest,
# network namespaces, optional imports) stay skips.
ASSET_SKIP = re.compile(r'\bmissing\b|not fetched|not exported|make setup|extract_vit|golden', re.IGNORECASE)


def require_assets() -> bool:
    return os.environ.get('NVB_REQUIRE_ASSETS') == '1'


def skip_missing_asset(reason: str):
    """Skip for a missing asset, or fail when assets are required (CI)."""
    if require_assets():
        pytest.fail(f'NVB_REQUIRE_ASSETS=1 and {reason}', pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With NVB_REQUIRE_ASSETS=1, a skip whose reason is a missing asset is reported as a failure."""
    report = (yield).get_result()
    if report.skipped and require_assets() and not hasattr(report, 'wasxfail'):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if ASSET_SKIP.search(reason):
            report.outcome = 'failed'
            report.longrepr = f'NVB_REQUIRE_ASSETS=1: skipped for a missing asset, which must not happen here: {reason}'


@pytest.fixture(autouse=True)
def ros_isolation(request, monkeypatch):
    """Tests that start nodes get their own DDS domain; whatever they leave running is ended at teardown."""
    if not HAVE_ROS or request.node.path.parent.name not in ('ros', 'launch'):
        yield None
        return
    from tests.ros.isolation import Isolation
    isolation = Isolation()
    isolation.setup(monkeypatch)
    yield isolation
    left = isolation.teardown()
    if left:
        warnings.warn(f'{request.node.nodeid} left processes running, ended at teardown: {left}', stacklevel=1)


@pytest.fixture(scope='session')
def assets() -> Path:
    """The fetched real data and weights (make setup); tests needing them skip with the reason if absent."""
    path = Path(os.environ['NVB_PERCEPTION_ASSETS'])
    if not (path / 'data' / 'opencv' / 'vtest.avi').exists():
        skip_missing_asset(f'assets not fetched into {path}: run `make setup`')
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
        skip_missing_asset('backbone missing: python -m nvb_perception.export.extract_vit')
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

"""nvb-render-markers: a user mistake gives one line and exit code 2 (rendering: tests/ros/test_rviz_scene.py)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-m', 'nvb_perception.offline.render_markers', *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def text_bag(tmp_path) -> Path:
    """A real MCAP bag with one std_msgs/String topic and no markers."""
    from nvb_perception.io.bag import BagWriter, serialize, typestore
    string = typestore().types['std_msgs/msg/String']
    path = tmp_path / 'text_bag'
    with BagWriter(path) as bag:
        bag.add_topic('/notes', 'std_msgs/msg/String')
        bag.write('/notes', 1, serialize(string(data='hello'), 'std_msgs/msg/String'))
    return path


@pytest.mark.parametrize('args, message', [
    (('no_such_bag',), 'does not exist'),
    (('{bag}',), 'has no MarkerArray or Marker topic'),
    (('{bag}', '--topics', 'notes'), 'is std_msgs/msg/String, not'),
    (('{bag}', '--topics', 'risk_markers'), 'has no topic risk_markers'),
    (('{bag}', '--time', '-1'), 'seconds >= 0'),
])
def test_mistakes_give_one_line(args, message, text_bag, tmp_path):
    result = run_cli(*[a.format(bag=text_bag) for a in args], '--out', tmp_path / 'x.png')
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and 'Traceback' not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / 'x.png').exists()

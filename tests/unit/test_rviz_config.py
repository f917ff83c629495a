"""config/nvb_perception.rviz checked against the node table (nvb_perception/nodes.py), not a list written twice.

Every displayed topic is one a node publishes, with a message type and QoS the display can receive, and the
Fixed Frame is the optical frame the nodes stamp their output with.
"""
from pathlib import Path

import yaml

from nvb_perception.nodes import published_topics

ROOT = Path(__file__).resolve().parents[2]
RVIZ = ROOT / 'config' / 'nvb_perception.rviz'
DISPLAY_TYPES = {'rviz_default_plugins/Image': 'Image', 'rviz_default_plugins/Camera': 'Image',
                 'rviz_default_plugins/MarkerArray': 'MarkerArray', 'rviz_default_plugins/Marker': 'Marker'}
RELIABILITY = {'sensor_data': 'best_effort', 'reliable': 'reliable', 'parameter': 'any'}


def publishers() -> dict[str, tuple[str, str]]:
    """Topic -> (message class name, 'best_effort' | 'reliable' | 'any') from the node table's outputs."""
    return {name: (topic.short_type, RELIABILITY[topic.qos]) for name, topic in published_topics().items()}


def camera_frame() -> str:
    """The optical frame video_publisher stamps images with (its frame_id parameter's default); nodes copy it."""
    from nvb_perception.io.player import PlayerConfig
    return PlayerConfig.__dataclass_fields__['frame_id'].default


def problems(rviz: dict) -> list[str]:
    """Everything in an RViz config that would show nothing with the nodes' defaults."""
    manager, published, errors = rviz['Visualization Manager'], publishers(), []
    if manager['Global Options']['Fixed Frame'] != camera_frame():
        errors.append(f"Fixed Frame {manager['Global Options']['Fixed Frame']!r} is not {camera_frame()!r}")
    for display in manager['Displays']:
        if 'Topic' not in display:
            continue
        topic, name = display['Topic']['Value'], display['Name']
        if topic not in published:
            errors.append(f'{name}: no node publishes {topic!r}')
            continue
        msg, reliability = published[topic]
        if DISPLAY_TYPES.get(display['Class']) != msg:
            errors.append(f'{name}: {display["Class"]} cannot show {msg} on {topic!r}')
        if reliability == 'best_effort' and display['Topic']['Reliability Policy'] != 'Best Effort':
            errors.append(f'{name}: {topic!r} is published best effort; a reliable subscription gets nothing')
    return errors


def test_rviz_config_shows_what_the_nodes_publish():
    rviz = yaml.safe_load(RVIZ.read_text())
    assert problems(rviz) == []
    topics = {d['Topic']['Value'] for d in rviz['Visualization Manager']['Displays'] if 'Topic' in d}
    assert {'overlay', 'skeleton_markers', 'risk_markers', 'cue_markers'} <= topics


def test_the_check_catches_wrong_configs():
    rviz = yaml.safe_load(RVIZ.read_text())
    displays = rviz['Visualization Manager']['Displays']
    marker = next(d for d in displays if d['Class'] == 'rviz_default_plugins/MarkerArray')
    image = next(d for d in displays if d['Class'] == 'rviz_default_plugins/Image')
    marker['Topic']['Value'] = 'skeleton_marker'
    image['Topic']['Reliability Policy'] = 'Reliable'
    rviz['Visualization Manager']['Global Options']['Fixed Frame'] = 'map'
    found = problems(rviz)
    assert len(found) == 3 and any("'skeleton_marker'" in p for p in found), found


def test_publisher_scan_sees_the_nodes():
    published = publishers()
    assert published['skeleton_markers'] == ('MarkerArray', 'reliable')
    assert published['cue_markers'] == ('MarkerArray', 'reliable')
    assert published['overlay'] == ('Image', 'best_effort')
    assert camera_frame() == 'camera_optical_frame'

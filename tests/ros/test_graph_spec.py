"""graph_nodes(): which nodes, namespaces, remappings, parameter files and recorded topics a graph gets."""
from pathlib import Path

import pytest
import yaml

from nvb_perception.errors import ConfigError
from nvb_perception.launcher.graph import Camera, config_file, graph_nodes
from nvb_perception.nodes import NODES, STAGES


def test_two_cameras_get_their_own_namespaced_stages_and_one_recorder():
    cams = [Camera.parse('cam0=/cam0/color/image_raw'), Camera.parse('cam1')]
    nodes = graph_nodes(cams, ('pose', 'lifting', 'risk'), params_file='p.yaml', record='bag')
    assert [n.title for n in nodes] == ['recorder', 'cam0.pose_node', 'cam0.lifting_node', 'cam0.risk_node',
                                        'cam1.pose_node', 'cam1.lifting_node', 'cam1.risk_node']
    pose0 = nodes[1]
    assert pose0.namespace == '/cam0' and pose0.remap == {'image': '/cam0/color/image_raw',
                                                          'image/compressed': '/cam0/color/image_raw/compressed',
                                                          'camera_info': '/cam0/color/camera_info'}
    assert nodes[3].remap == {}                                # risk_node takes no image
    topics = nodes[0].params['topics']
    assert '/cam0/color/camera_info:sensor_msgs/msg/CameraInfo' in topics and '/diagnostics' in topics
    assert not any('/cues' in t or '/actions' in t for t in topics)      # stages not running are not recorded


def test_overrides_go_in_a_params_file_after_the_shipped_ones(tmp_path):
    nodes = graph_nodes([Camera('cam0', video='v.avi')], ('pose', 'cues'), params_file=str(config_file(
        'perception.yaml')), overrides={'pose_node': {'max_people': 2}}, use_sim_time=True)
    player, pose, cue = nodes
    assert player.params == {'source': 'v.avi', 'wait_for_subscribers': 1, 'publish_clock': True}
    args = pose.ros_args(tmp_path)
    files = [args[i + 1] for i, a in enumerate(args) if a == '--params-file']
    assert files[0].endswith('perception.yaml') and len(files) == 2 and '-p' not in args
    assert yaml.safe_load(Path(files[1]).read_text()) == {
        '/cam0/pose_node': {'ros__parameters': {'use_sim_time': True, 'max_people': 2}}}
    assert any(f.endswith('cues.yaml') for f in cue.ros_args(tmp_path))


@pytest.mark.parametrize('kwargs, message', [
    ({'stages': ('pose', 'dance')}, 'unknown stages'),
    ({'overrides': {'teleporter': {}}}, 'unknown nodes'),
    ({'cameras': [Camera('a'), Camera('a')]}, 'share a namespace'),
])
def test_bad_graphs_are_refused(kwargs, message):
    args = {'cameras': [Camera()], **kwargs}
    with pytest.raises(ConfigError, match=message):
        graph_nodes(**args)


@pytest.mark.parametrize('stage', list(STAGES))
def test_the_node_table_drives_each_stage(stage, tmp_path):
    """Node, remappings, extra config files and recorded topics of a stage are its NodeSpec's."""
    spec = STAGES[stage]
    recorder, node = graph_nodes([Camera.parse('cam0=/cam0/image_raw')], (stage,), record='bag')
    assert node.executable == spec.executable and node.title == f'cam0.{spec.node}'
    assert bool(node.remap) == spec.takes_image
    files = [a for a in node.ros_args(tmp_path) if a.endswith('.yaml')]
    assert [Path(f).name for f in files if Path(f).parent.name == 'config'] == list(spec.params_files)
    recorded = [t for t in recorder.params['topics'] if t != '/diagnostics']
    assert recorded == [f'/cam0/{t.name}:{t.type}' for t in spec.outputs if t.recorded] + [
        '/cam0/camera_info:sensor_msgs/msg/CameraInfo']


def test_default_stages_and_node_classes_come_from_the_table():
    from nvb_perception.launcher import graph
    assert graph.DEFAULT_STAGES == ('pose', 'lifting', 'risk', 'cues')
    assert [n.executable for n in graph_nodes([Camera()])] == ['pose_node', 'lifting_node', 'risk_node', 'cue_node']
    assert graph.NODE_CLASSES == {s.node: s.cls for s in NODES}
    for spec in NODES:                  # every class the single-process graph creates is where the table says
        source = (Path(__file__).resolve().parents[2] / 'nvb_perception' / 'ros' / f'{spec.executable}.py')
        assert f'class {spec.cls}(' in source.read_text(), spec.node

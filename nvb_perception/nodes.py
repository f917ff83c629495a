"""Every node of the package, declared once: name, executable, class, stage, topics.

The launcher's graph (launcher/graph.py), the console scripts (setup.py), the launch file, the RViz check and
docs/nodes.md (scripts/write_node_docs.py) all read this table. Pure Python: importable without ROS.

Adding a node: one NodeSpec entry here, a config dataclass with param() fields for its parameters, and the node
module nvb_perception/ros/<executable>.py with a class `cls` and a `main()` (see docs/architecture.md).
"""
from __future__ import annotations

from dataclasses import dataclass

PACKAGE = 'nvb_perception'


@dataclass(frozen=True)
class Topic:
    """One topic a node reads or writes, relative to the node's namespace unless it starts with '/'."""

    name: str
    type: str                      # 'pkg/msg/Type'
    qos: str = 'reliable'          # 'reliable', 'sensor_data' (best effort) or 'parameter' (chosen by a parameter)
    when: str = ''                 # condition, e.g. 'publish_overlay:=true'; '' = always
    recorded: bool = False         # a stage's result: `nvb-perception run --record` records it

    @property
    def short_type(self) -> str:
        """The message class name ('Image' for 'sensor_msgs/msg/Image')."""
        return self.type.rsplit('/', 1)[-1]


@dataclass(frozen=True)
class NodeSpec:
    """One node: what runs it, which stage it is, what it reads and writes."""

    node: str                      # ROS node name (also the parameter file section: /**/<node>)
    executable: str                # console script; its module is nvb_perception.ros.<executable>
    cls: str                       # node class in that module
    summary: str                   # one line for docs and launch argument descriptions
    stage: str | None = None       # stage flag ('pose', ...) for --stages and the launch file; None: a helper
    default_on: bool = False       # a stage started by default
    inputs: tuple[Topic, ...] = ()
    outputs: tuple[Topic, ...] = ()
    takes_image: bool = False      # gets the camera's image/camera_info remappings
    params_files: tuple[str, ...] = ()     # shipped config files loaded after the params file (config/<name>)

    @property
    def module(self) -> str:
        """The Python module of the node class."""
        return f'{PACKAGE}.ros.{self.executable}'

    @property
    def entry_point(self) -> str:
        """The console_scripts line of setup.py."""
        return f'{self.executable} = {self.module}:main'


def _msg(name: str) -> str:
    return f'nvb_perception_msgs/msg/{name}'


IMAGE = Topic('image', 'sensor_msgs/msg/Image', 'sensor_data')
CAMERA_INFO = Topic('camera_info', 'sensor_msgs/msg/CameraInfo', 'sensor_data')
# the camera input of every image node, chosen by its image_transport parameter (ros/images.py)
RAW_IMAGE = Topic('image', IMAGE.type, 'parameter', 'image_transport:=raw')
COMPRESSED_IMAGE = Topic('image/compressed', 'sensor_msgs/msg/CompressedImage', 'parameter',
                         'image_transport:=compressed')
SKELETONS_2D = Topic('skeletons_2d', _msg('Skeleton2DArray'), recorded=True)
SKELETONS_3D = Topic('skeletons_3d', _msg('Skeleton3DArray'), recorded=True)
DIAGNOSTICS = Topic('/diagnostics', 'diagnostic_msgs/msg/DiagnosticArray')      # every node publishes it
MARKERS = 'visualization_msgs/msg/MarkerArray'

NODES: tuple[NodeSpec, ...] = (
    NodeSpec('pose_node', 'pose_node', 'PoseNode', '2D pose: people, 33 landmarks each, tracked', stage='pose',
             default_on=True, takes_image=True,
             inputs=(RAW_IMAGE, COMPRESSED_IMAGE, CAMERA_INFO),
             outputs=(SKELETONS_2D, Topic('overlay', IMAGE.type, 'sensor_data', 'publish_overlay:=true'))),
    NodeSpec('lifting_node', 'lifting_node', 'LiftingNode', '2D->3D lifting of each tracked skeleton',
             stage='lifting', default_on=True, takes_image=True,
             inputs=(SKELETONS_2D, CAMERA_INFO,
                     Topic('depth/image_rect_raw', IMAGE.type, 'parameter', 'use_depth:=true')),
             outputs=(SKELETONS_3D, Topic('skeleton_markers', MARKERS))),
    NodeSpec('risk_node', 'risk_node', 'RiskNode', 'RULA/REBA ergonomic risk per person', stage='risk',
             default_on=True,
             inputs=(SKELETONS_3D,),
             outputs=(Topic('ergonomic_risk', _msg('ErgonomicRiskArray'), recorded=True),
                      Topic('risk_markers', MARKERS))),
    NodeSpec('cue_node', 'cue_node', 'CueNode', 'non-verbal cues from face, hands and pose', stage='cues',
             default_on=True, takes_image=True, params_files=('cues.yaml',),
             inputs=(SKELETONS_2D, Topic('skeletons_3d', SKELETONS_3D.type, when='use_skeletons_3d:=true'),
                     Topic('image', IMAGE.type, 'parameter', 'use_image:=true, image_transport:=raw'),
                     Topic(COMPRESSED_IMAGE.name, COMPRESSED_IMAGE.type, 'parameter',
                           'use_image:=true, image_transport:=compressed')),
             outputs=(Topic('cues', _msg('CueArray'), recorded=True),
                      Topic('cue_overlay', IMAGE.type, 'sensor_data', 'publish_overlay:=true'),
                      Topic('cue_markers', MARKERS),
                      Topic('head_poses', _msg('HeadPoseArray'), when='publish_head_poses:=true', recorded=True))),
    NodeSpec('action_node', 'action_node', 'ActionNode',
             'action recognition (needs a head trained with nvb-train-actions)', stage='actions',
             takes_image=True,
             inputs=(RAW_IMAGE, COMPRESSED_IMAGE,
                     Topic('skeletons_2d', SKELETONS_2D.type, when='whole_frame:=false')),
             outputs=(Topic('actions', _msg('ActionArray'), recorded=True),
                      Topic('action_heatmap', IMAGE.type, 'reliable', 'publish_heatmap:=true'))),
    NodeSpec('hri_bridge', 'hri_bridge', 'HriBridge',
             'REP-155 (ROS4HRI) bodies and per-body TF frames from our tracks', stage='hri',
             inputs=(SKELETONS_2D, SKELETONS_3D),
             outputs=(Topic('/tf', 'tf2_msgs/msg/TFMessage', when='body_frames:=true (a frame per body with a pose)'),
                      Topic('/humans/bodies/tracked', 'hri_msgs/msg/IdsList', when='hri_msgs installed'),
                      Topic('/humans/bodies/<id>/roi', 'hri_msgs/msg/NormalizedRegionOfInterest2D',
                            when='per tracked body, hri_msgs installed'),
                      Topic('/humans/bodies/<id>/skeleton2d', 'hri_msgs/msg/Skeleton2D',
                            when='per tracked body, hri_msgs installed'))),
    NodeSpec('video_publisher', 'video_publisher', 'VideoPublisher',
             'plays a video file, image folder or rosbag2 bag as a camera', takes_image=True,
             outputs=(Topic('image', IMAGE.type, 'parameter'), Topic('camera_info', CAMERA_INFO.type, 'parameter'),
                      Topic('image/compressed', 'sensor_msgs/msg/CompressedImage', 'parameter', 'compressed:=true'),
                      Topic('/clock', 'rosgraph_msgs/msg/Clock', when='publish_clock:=true'))),
    NodeSpec('recorder', 'recorder', 'Recorder', 'records topics to a rosbag2 bag (MCAP or sqlite3)',
             inputs=(Topic('<topics>', '<any>', 'parameter', 'the topics parameter'),)),
)

BY_NAME: dict[str, NodeSpec] = {spec.node: spec for spec in NODES}
STAGES: dict[str, NodeSpec] = {spec.stage: spec for spec in NODES if spec.stage}       # pipeline order
DEFAULT_STAGES: tuple[str, ...] = tuple(stage for stage, spec in STAGES.items() if spec.default_on)


def spec(node: str) -> NodeSpec:
    """The spec of one node by name (KeyError naming the known nodes)."""
    try:
        return BY_NAME[node]
    except KeyError:
        raise KeyError(f'no node {node!r}; nodes: {list(BY_NAME)}') from None


def published_topics() -> dict[str, Topic]:
    """Every relative topic some node publishes -> its Topic (the first node's, in table order)."""
    found: dict[str, Topic] = {}
    for node in NODES:
        for topic in node.outputs:
            found.setdefault(topic.name, topic)
    return found

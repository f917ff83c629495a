"""The perception graph for one or more cameras: which nodes, with which parameters and remappings.

`graph_nodes()` describes the graph as NodeProcess entries (the same nodes, arguments and remappings as
launch/perception.launch.py); `ProcessGraph` starts them as separate processes, `ComposedGraph` creates them all
in this process on one multi-threaded executor (no process boundaries; messages still go through rmw).
"""
import importlib
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

from nvb_perception import nodes as nodes_spec
from nvb_perception.errors import ConfigError, PerceptionError
from nvb_perception.launcher.processes import NodeProcess

# the node table (nvb_perception/nodes.py) decides the stages, their order, classes, remappings and recorded topics
STAGES = {stage: spec.node for stage, spec in nodes_spec.STAGES.items()}
DEFAULT_STAGES = nodes_spec.DEFAULT_STAGES
NODE_CLASSES = {spec.node: spec.cls for spec in nodes_spec.NODES}
TAKES_IMAGE = tuple(spec.node for spec in nodes_spec.NODES if spec.takes_image)
# recorded with their types, so the recorder subscribes at start instead of when it first sees a publisher
RECORDED = {stage: {t.name: t.type for t in spec.outputs if t.recorded} for stage, spec in nodes_spec.STAGES.items()}


def config_file(name: str) -> Path:
    """A shipped config file: the installed share folder, else the source checkout's config/."""
    root = Path(__file__).resolve().parents[2]
    for candidate in (root / 'install' / 'nvb_perception' / 'share' / 'nvb_perception' / 'config' / name,
                      root / 'config' / name):
        if candidate.is_file():
            return candidate
    raise ConfigError(f'config file {name} not found; run `make setup` (it installs config/ with the package)')


@dataclass(frozen=True)
class Camera:
    """One camera: the namespace of its graph and its input topics."""

    namespace: str = ''
    image: str = 'image'
    video: str = ''                  # play this file/bag as the camera (video_publisher), or '' for a live topic

    @classmethod
    def parse(cls, text: str, video: str = '') -> 'Camera':
        """'cam0' or 'cam0=/cam0/image_raw' (namespace, then the image topic)."""
        namespace, _, image = text.partition('=')
        namespace = namespace.strip('/')
        if namespace and not all(part.replace('_', 'a').isalnum() and not part[0].isdigit()
                                 for part in namespace.split('/')):
            raise ConfigError(f'camera {text!r}: the namespace must be letters, digits and _ '
                              '(not starting with a digit), e.g. cam0')
        return cls(namespace, image or 'image', video)

    @property
    def camera_info(self) -> str:
        """The CameraInfo topic next to the image topic (ROS camera convention)."""
        head, _, _ = self.image.rpartition('/')
        return f'{head}/camera_info' if head else 'camera_info'


def graph_nodes(cameras: list[Camera], stages=DEFAULT_STAGES, params_file: str = '', use_sim_time: bool = False,
                overrides: dict | None = None, record: str = '', record_images: bool = False) -> list[NodeProcess]:
    """The node processes of the whole graph: per camera its stages (and video player), plus one recorder.

    overrides: {'pose_node': {'max_people': 2}, ...} applied on top of the params file.
    """
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ConfigError(f'unknown stages {sorted(unknown)}; choose from {list(STAGES)}')
    if len({c.namespace for c in cameras}) != len(cameras):
        raise ConfigError('two cameras share a namespace; give each camera its own (cam0, cam1, ...)')
    overrides = overrides or {}
    bad = set(overrides) - set(NODE_CLASSES)
    if bad:
        raise ConfigError(f'parameters given for unknown nodes {sorted(bad)}; nodes: {list(NODE_CLASSES)}')
    running = {STAGES[s] for s in stages} | {'video_publisher'}
    extra_files = {spec.node: [str(config_file(name)) for name in spec.params_files]
                   for spec in nodes_spec.NODES if spec.node in running}
    nodes = []
    for cam in cameras:
        executables = (['video_publisher'] if cam.video else []) + [STAGES[s] for s in STAGES if s in stages]
        for exe in executables:
            params = {'use_sim_time': True} if use_sim_time else {}
            if exe == 'video_publisher':
                params = {'source': cam.video, 'wait_for_subscribers': 1}    # start once pose_node listens
                if use_sim_time and cam == next(c for c in cameras if c.video):
                    params['publish_clock'] = True          # the first player is the clock (one /clock source)
                elif use_sim_time:
                    params['use_sim_time'] = True
            params.update(overrides.get(exe, {}))
            # image/compressed follows the image topic (image_transport's convention)
            remap = {'image': cam.image, 'image/compressed': f'{cam.image}/compressed',
                     'camera_info': cam.camera_info} if exe in TAKES_IMAGE else {}
            nodes.append(NodeProcess(exe, params, remap, namespace=cam.namespace and '/' + cam.namespace,
                                     params_file=params_file, label=_label(cam, exe),
                                     extra_params_files=extra_files.get(exe, [])))
    if record:
        outputs = [(name, ty) for stage in STAGES if stage in stages for name, ty in RECORDED[stage].items()]
        outputs.append(('camera_info', nodes_spec.CAMERA_INFO.type))
        topics = [f'{_absolute(c, c.camera_info if t == "camera_info" else t)}:{ty}' for c in cameras
                  for t, ty in outputs]
        topics += [_absolute(c, c.image) for c in cameras] if record_images else []     # raw or compressed
        params = {'output': record, 'topics': topics + ['/diagnostics'], **overrides.get('recorder', {})}
        if use_sim_time:
            params['use_sim_time'] = True
        nodes.insert(0, NodeProcess('recorder', params, name='recorder'))     # first up, last to stop
    return nodes


def _absolute(cam: Camera, topic: str) -> str:
    return topic if topic.startswith('/') else f'/{cam.namespace}/{topic}'.replace('//', '/')


def _label(cam: Camera, exe: str) -> str:
    return f'{cam.namespace}.{exe}' if cam.namespace else exe


class ComposedGraph:
    """Every node of the graph in this process, spun by one MultiThreadedExecutor (a context manager)."""

    def __init__(self, nodes: list[NodeProcess], threads: int | None = None):
        self.specs = nodes
        self.context = rclpy.Context()
        rclpy.init(args=[], context=self.context)
        self.nodes = []
        self._params_dir = tempfile.TemporaryDirectory(prefix='nvb_graph_params_')
        try:
            for spec in nodes:
                node_spec = nodes_spec.spec(spec.executable)
                cls = getattr(importlib.import_module(node_spec.module), node_spec.cls)
                self.nodes.append(cls(context=self.context, namespace=spec.namespace or None,
                                      cli_args=spec.ros_args(Path(self._params_dir.name))))
                if hasattr(self.nodes[-1], 'autostart'):
                    self.nodes[-1].autostart()
        except PerceptionError as error:
            self.close()
            raise ConfigError(f'{spec.title}: {error}') from None
        self.executor = MultiThreadedExecutor(num_threads=threads or len(self.nodes) + 2, context=self.context)
        for node in self.nodes:
            self.executor.add_node(node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        try:
            self.executor.spin()
        except (ExternalShutdownException, KeyboardInterrupt):
            pass

    def players_done(self) -> bool:
        """True when every video player in the graph has finished its file (and there is at least one)."""
        players = [n for n in self.nodes if hasattr(n, 'published')]
        return bool(players) and all(n.done for n in players)

    def close(self):
        """Stop spinning, close and destroy every node."""
        if getattr(self, 'executor', None) is not None:
            self.executor.shutdown(timeout_sec=2)
            self._thread.join(timeout=5)
        for node in reversed(self.nodes):
            close = getattr(node, 'close', None)
            if close:
                close()
            node.destroy_node()
        self.nodes = []
        rclpy.try_shutdown(context=self.context)
        self._params_dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

"""Record topics into a rosbag2 bag (MCAP or sqlite3) without rosbag2: a `ros2 bag record` for this package.

    recorder --ros-args -p output:=run1_bag -p topics:="['skeletons_2d', 'image']"

Message types are taken from the graph (a topic is subscribed as soon as a publisher appears) unless given
as 'topic:pkg/msg/Type'. Messages are stored as received (serialized CDR, no decoding), stamped with the
node's clock (sim time when use_sim_time is set). The bag is closed cleanly on SIGINT/SIGTERM. Parameters:
RecorderConfig's fields (max_messages live, the others only at start).
"""
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from nvb_perception.io.bag import BagWriter
from nvb_perception.io.recording import RecorderConfig
from nvb_perception.ros.node_utils import Diagnostics, message_class, run
from nvb_perception.ros.parameters import LiveConfig, declare_config


class Recorder(Node):
    """Subscribe to topics in serialized form and append every message to a bag."""

    def __init__(self, **node_options):
        super().__init__('recorder', **node_options)
        config = declare_config(self, RecorderConfig)
        # relative names resolve in the node's namespace, like any subscription
        self.pending = {self.resolve_topic_name(name): msgtype   # resolved name -> type ('' until on the graph)
                        for name, msgtype in config.topic_types().items()}
        self.live = LiveConfig(self, config)
        self.qos = QoSProfile(depth=config.queue_depth, reliability=ReliabilityPolicy.RELIABLE
                              if config.reliability == 'reliable' else ReliabilityPolicy.BEST_EFFORT)
        self.writer = BagWriter(config.output, storage=config.storage)
        self.diagnostics = Diagnostics(self)
        self.done = False
        self._recorded = []
        self._subscribe_known()
        self.create_timer(0.2, self._subscribe_known)

    def _subscribe_known(self):
        graph = dict(self.get_topic_names_and_types())
        for topic, msgtype in list(self.pending.items()):
            msgtype = msgtype or (graph.get(topic) or [''])[0]
            if not msgtype:
                continue
            cls = message_class(msgtype)
            self.writer.add_topic(topic, msgtype)
            self._recorded.append(self.create_subscription(
                cls, topic, lambda raw, topic=topic: self.write(topic, raw), self.qos, raw=True))
            del self.pending[topic]
            self.get_logger().info(f'recording {topic} [{msgtype}]')

    def write(self, topic: str, raw: bytes):
        """Append one serialized message, stamped with the node's clock; done once max_messages are in."""
        if self.done:
            return
        self.writer.write(topic, self.get_clock().now().nanoseconds, raw)
        self.diagnostics.count('messages')
        limit = self.live.config.max_messages
        if limit and self.writer.count >= limit:
            self.done = True

    def close(self):
        """Finish the bag file."""
        self.writer.close()
        # printed, not logged: after SIGINT the context (and /rosout) is already gone
        print(f'[recorder] wrote {self.writer.count} messages to {self.writer.path}', flush=True)


def main(args=None):
    """Entry point of the recorder executable."""
    return run(Recorder, args)


if __name__ == '__main__':
    raise SystemExit(main())

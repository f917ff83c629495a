"""Record topics into a rosbag2 bag (MCAP or sqlite3) without rosbag2: a `ros2 bag record` for this package.

    recorder --ros-args -p output:=run1_bag -p topics:="['skeletons_2d', 'image']"

Message types are taken from the graph (a topic is subscribed as soon as a publisher appears) unless given
as 'topic:pkg/msg/Type'. Messages are stored as received (serialized CDR, no decoding), stamped with the
node's clock (sim time when use_sim_time is set). The bag is closed cleanly on SIGINT/SIGTERM.
"""
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from nvb_perception.errors import ConfigError
from nvb_perception.io.bag import STORAGES, BagWriter
from nvb_perception.ros.node_utils import Diagnostics, declare, message_class, run


class Recorder(Node):
    """Subscribe to topics in serialized form and append every message to a bag."""

    def __init__(self, **node_options):
        super().__init__('recorder', **node_options)
        output = declare(self, 'output', '', 'Bag folder to create (must not exist)', read_only=True)
        topics = declare(self, 'topics', [''], "Topics to record: 'name' or 'name:pkg/msg/Type'", read_only=True)
        storage = declare(self, 'storage', 'mcap', 'Bag storage format', choices=STORAGES, read_only=True)
        self.max_messages = declare(self, 'max_messages', 0, 'Stop after this many messages (0 = no limit)',
                                    low=0, high=10**9)
        reliability = declare(self, 'reliability', 'reliable',
                              'QoS reliability of the subscriptions (best_effort also hears best-effort '
                              'publishers; reliable loses nothing from reliable ones)',
                              choices=('reliable', 'best_effort'))
        depth = declare(self, 'queue_depth', 100, 'Subscription queue depth', low=1, high=10000)
        topics = [t for t in topics if t]
        if not output:
            raise ConfigError('parameter output is empty: give the bag folder to write')
        if not topics:
            raise ConfigError("parameter topics is empty: give e.g. ['skeletons_2d']")
        self.qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                              else ReliabilityPolicy.BEST_EFFORT)
        self.pending: dict[str, str] = {}     # resolved topic name -> type ('' until seen on the graph)
        for entry in topics:
            name, _, msgtype = entry.partition(':')
            # relative names resolve in the node's namespace, like any subscription
            self.pending[self.resolve_topic_name(name)] = msgtype
        self.writer = BagWriter(output, storage=storage)
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
                cls, topic, lambda raw, topic=topic: self._write(topic, raw), self.qos, raw=True))
            del self.pending[topic]
            self.get_logger().info(f'recording {topic} [{msgtype}]')

    def _write(self, topic: str, raw: bytes):
        if self.done:
            return
        self.writer.write(topic, self.get_clock().now().nanoseconds, raw)
        self.diagnostics.count('messages')
        if self.max_messages and self.writer.count >= self.max_messages:
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

"""rosbag2 bags (MCAP or sqlite3, version 9) without rosbag2, via the pure-Python `rosbags` library.

The project's own message types are registered from their .msg text, so bags carry the real RIHS01 type
hashes and full message definitions, and play back with `ros2 bag play` on a full ROS install.

    with BagWriter('out_bag', storage='mcap') as bag:
        bag.add_topic('/skeletons_2d', 'nvb_perception_msgs/msg/Skeleton2DArray')
        bag.write('/skeletons_2d', stamp_ns, cdr_bytes)      # e.g. rclpy.serialization.serialize_message(msg)
    for record in BagReader('out_bag').messages():
        record.topic, record.msgtype, record.stamp_ns, record.raw
"""
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from nvb_perception.errors import PerceptionError

MSG_PACKAGE = 'nvb_perception_msgs'
STORAGES = ('mcap', 'sqlite3')


def project_msg_dir() -> Path:
    """Folder of the project's .msg files: the installed share dir, else the source checkout's msg/msg."""
    try:
        from ament_index_python.packages import get_package_share_directory
        installed = Path(get_package_share_directory(MSG_PACKAGE)) / 'msg'
        if installed.is_dir():
            return installed
    except (ImportError, LookupError):
        pass
    source = Path(__file__).resolve().parents[2] / 'msg' / 'msg'
    if not source.is_dir():
        raise PerceptionError(f'cannot find the {MSG_PACKAGE} .msg files (not installed, no {source})')
    return source


@lru_cache(maxsize=1)
def typestore():
    """A rosbags Kilted typestore with the project's message types registered from their .msg text."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for f in sorted(project_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(f.read_text(), f'{MSG_PACKAGE}/msg/{f.stem}'))
    store.register(types)
    return store


@dataclass(frozen=True)
class BagRecord:
    """One serialized message of a bag."""

    topic: str
    msgtype: str        # e.g. 'sensor_msgs/msg/Image'
    stamp_ns: int       # receive/record time in the bag
    raw: bytes          # CDR


class BagWriter:
    """Write CDR messages to a new rosbag2 bag (the folder must not exist yet)."""

    def __init__(self, path: str | Path, storage: str = 'mcap'):
        from rosbags.rosbag2 import StoragePlugin, Writer, WriterError
        if storage not in STORAGES:
            raise PerceptionError(f'unknown bag storage {storage!r}; use one of {STORAGES}')
        self.path = Path(path)
        if self.path.exists():
            raise PerceptionError(f'bag {self.path} already exists; remove it or choose another name')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=9, storage_plugin=plugin)
        try:
            self._writer.open()
        except (OSError, WriterError) as error:
            why = getattr(error, 'strerror', None) or error
            raise PerceptionError(f'cannot create bag {self.path}: {why}; choose a folder you can write to') from None
        self._connections = {}
        self.count = 0

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare a topic and its type (types not in the Kilted store must be project types)."""
        store = typestore()
        if msgtype not in store.types:
            raise PerceptionError(f'unknown message type {msgtype!r} for topic {topic}')
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=store)

    def write(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        """Append one CDR-serialized message."""
        if topic not in self._connections:
            raise PerceptionError(f'topic {topic} was not added to the bag')
        self._writer.write(self._connections[topic], int(stamp_ns), bytes(raw))
        self.count += 1

    def close(self) -> None:
        """Finish the bag (writes metadata.yaml); safe to call twice."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BagReader:
    """Read a rosbag2 bag (MCAP or sqlite3) written by any rosbag2 writer."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / 'metadata.yaml').exists():
            raise PerceptionError(f'{self.path} is not a rosbag2 bag (no metadata.yaml)')

    @contextmanager
    def _reader(self):
        """An open rosbags Reader; a corrupt or incomplete bag raises PerceptionError naming it (one line)."""
        from rosbags.rosbag2 import Reader, ReaderError
        try:
            with Reader(self.path) as reader:
                yield reader
        except (ReaderError, sqlite3.DatabaseError) as error:
            why = ' '.join(str(error).split()).rstrip('.')
            raise PerceptionError(f'cannot read bag {self.path}: {why}. The bag is corrupt or incomplete: record it '
                                  'again, or restore the files its metadata.yaml lists') from None

    def topics(self) -> dict[str, str]:
        """Topic name -> message type."""
        with self._reader() as reader:
            return {c.topic: c.msgtype for c in reader.connections}

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[BagRecord]:
        """Yield the messages in time order, optionally only of `topics`."""
        with self._reader() as reader:
            wanted = set(topics) if topics is not None else None
            conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
            for conn, stamp_ns, raw in reader.messages(connections=conns):
                yield BagRecord(conn.topic, conn.msgtype, stamp_ns, bytes(raw))


def deserialize(record: BagRecord):
    """Decode a record into a rosbags message object (same field names as the ROS message)."""
    return typestore().deserialize_cdr(record.raw, record.msgtype)


def serialize(message, msgtype: str) -> bytes:
    """Encode a rosbags message object as CDR."""
    return bytes(typestore().serialize_cdr(message, msgtype))

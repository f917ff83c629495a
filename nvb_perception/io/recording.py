"""Settings of the recorder node (a `ros2 bag record` for this package); each field is also a parameter."""
from __future__ import annotations

from dataclasses import dataclass

from nvb_perception.errors import ConfigError
from nvb_perception.io.bag import STORAGES
from nvb_perception.params import param, validate

RELIABILITIES = ('reliable', 'best_effort')


@dataclass(frozen=True)
class RecorderConfig:
    """What to record, where, and how the subscriptions listen."""

    output: str = param('', 'Bag folder to create (must not exist)', read_only=True)
    topics: tuple[str, ...] = param(('',), "Topics to record: 'name' or 'name:pkg/msg/Type'", read_only=True)
    storage: str = param('mcap', 'Bag storage format', choices=STORAGES, read_only=True)
    max_messages: int = param(0, 'Stop after this many messages (0 = no limit)', low=0, high=10**9)
    reliability: str = param('reliable', 'QoS reliability of the subscriptions (best_effort also hears '
                             'best-effort publishers; reliable loses nothing from reliable ones)',
                             choices=RELIABILITIES, read_only=True)
    queue_depth: int = param(100, 'Subscription queue depth', low=1, high=10000, read_only=True)

    def __post_init__(self):
        validate(self)

    def topic_types(self) -> dict[str, str]:
        """{topic name as given: message type ('' = take it from the graph)}; ConfigError if nothing to record."""
        if not self.output:
            raise ConfigError('parameter output is empty: give the bag folder to write')
        entries = [t for t in self.topics if t]
        if not entries:
            raise ConfigError("parameter topics is empty: give e.g. ['skeletons_2d']")
        return dict(entry.partition(':')[::2] for entry in entries)

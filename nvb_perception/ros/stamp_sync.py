"""Messages of several inputs matched by their camera stamp (pure Python: no rclpy needed).

    sync = StampSync(on_unmatched=lambda part: diagnostics.count(f'{part}_unmatched'))
    sync.add('image', stamp_ns, image_msg)
    match = sync.add('skeletons', stamp_ns, skeleton_msg)
    if match.has('image', 'skeletons'):
        sync.take(stamp_ns)            # the pair, out of the map
    sync.first('skeletons')            # the entry whose skeletons came first (process in their arrival order)

The map is bounded: past `capacity` the entry added first is dropped. Every part that leaves without being
taken (dropped for room, expired, or older than a stamp given to `drop_older`) is reported through
`on_unmatched(part)`, so a node can count what never found its partner.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Match:
    """The parts of one stamp that came so far, and when each came (monotonic seconds)."""

    stamp_ns: int
    parts: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)

    def has(self, *names: str) -> bool:
        """True when every named part is here."""
        return all(name in self.parts for name in names)

    def waited(self, name: str, now: float) -> float:
        """Seconds since part `name` came (since the first part if it did not)."""
        return now - self.times.get(name, min(self.times.values()))


class StampSync:
    """Parts keyed by stamp_ns, bounded, in arrival order; parts that leave unmatched are reported."""

    def __init__(self, capacity: int = 30, on_unmatched: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if capacity < 1:
            raise ValueError(f'capacity must be >= 1, got {capacity}')
        self.capacity = capacity
        self.on_unmatched = on_unmatched
        self.clock = clock
        self.entries: OrderedDict[int, Match] = OrderedDict()
        self.unmatched: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def add(self, name: str, stamp_ns: int, msg) -> Match:
        """Store one part (a repeated part replaces the earlier one); the oldest entry goes when over capacity."""
        match = self.entries.get(stamp_ns)
        if match is None:
            match = self.entries[stamp_ns] = Match(stamp_ns)
        match.parts[name] = msg
        match.times[name] = self.clock()
        while len(self.entries) > self.capacity:
            self._drop(next(iter(self.entries)))
        return match

    def take(self, stamp_ns: int) -> Match | None:
        """Remove and return the entry of this stamp (None if there is none)."""
        return self.entries.pop(stamp_ns, None)

    def first(self, name: str) -> Match | None:
        """The entry whose part `name` came first, or None."""
        return min((m for m in self.entries.values() if name in m.parts), key=lambda m: m.times[name], default=None)

    def drop_older(self, stamp_ns: int) -> None:
        """Drop the entries of older stamps: with inputs answered in order, they will never be complete."""
        for stamp in [s for s in self.entries if s < stamp_ns]:
            self._drop(stamp)

    def expire(self, max_age_s: float, keep: str | None = None) -> None:
        """Drop the entries whose first part came more than max_age_s ago (except those holding part `keep`)."""
        now = self.clock()
        for stamp, match in list(self.entries.items()):
            if now - min(match.times.values()) > max_age_s and (keep is None or keep not in match.parts):
                self._drop(stamp)

    def clear(self) -> None:
        """Forget everything (not counted: the node starts over)."""
        self.entries.clear()

    def _drop(self, stamp_ns: int) -> None:
        for name in self.entries.pop(stamp_ns).parts:
            self.unmatched[name] = self.unmatched.get(name, 0) + 1
            if self.on_unmatched is not None:
                self.on_unmatched(name)

"""Small helpers every node uses: a clean main(), diagnostics, the newest-frame worker, message type lookup."""
import importlib
import sys
import threading
import time
from collections import deque

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy._rclpy_pybind11 import RCLError
from rclpy.executors import ExternalShutdownException
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from nvb_perception.errors import PerceptionError
from nvb_perception.imaging import numpy_to_image_fields
from nvb_perception.ros.parameters import declare  # noqa: F401 - the nodes import it from here


def message_class(type_name: str):
    """'pkg/msg/Type' (or 'pkg/Type') -> the Python message class; PerceptionError if unknown."""
    parts = type_name.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3:
        raise PerceptionError(f'bad message type {type_name!r}; expected pkg/msg/Type')
    try:
        return getattr(importlib.import_module(f'{parts[0]}.{parts[1]}'), parts[2])
    except (ImportError, AttributeError):
        raise PerceptionError(f'unknown message type {type_name!r} (is its package installed and sourced?)') from None


def run(node_factory, args=None) -> int:
    """Create the node, spin until shutdown, clean up. Configuration errors exit with code 2, no traceback."""
    rclpy.init(args=args if args is not None else sys.argv)
    node = None
    code = 0
    try:
        node = node_factory()
        autostart = getattr(node, 'autostart', None)     # managed nodes load their models here
        if autostart:
            autostart()
        # nodes with a `done` flag (players, recorders with a limit) end on their own
        while rclpy.ok() and not getattr(node, 'done', False):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except RCLError:
        if rclpy.ok():
            raise                    # a real failure; during SIGTERM shutdown a publish may hit a dead context
    except PerceptionError as error:
        name = node.get_name() if node else getattr(node_factory, '__name__', 'node')
        print(f'[{name}] error: {error}', file=sys.stderr)
        code = 2
    finally:
        if node is not None:
            close = getattr(node, 'close', None)
            if close:
                close()
            node.destroy_node()
        rclpy.try_shutdown()
    return code


class Diagnostics:
    """Rolling statistics of one node, published on /diagnostics once a second."""

    def __init__(self, node, hardware_id: str = 'nvb_perception', window: int = 300):
        self.node = node
        self.hardware_id = hardware_id
        self.processing_ms = deque(maxlen=window)
        self.latency_ms = deque(maxlen=window)
        self.arrivals = deque(maxlen=window)
        self.counters: dict[str, int] = {}
        self.values: dict[str, str] = {}
        self.warning = ''
        self.publisher = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
        node.create_timer(1.0, self.publish)

    def count(self, key: str, n: int = 1) -> None:
        """Add n to a counter (e.g. 'frames_skipped')."""
        self.counters[key] = self.counters.get(key, 0) + n

    def problem(self, counter: str, message: str) -> None:
        """Count a dropped input under `counter`, show `message` in the status and log it (throttled)."""
        self.count(counter)
        self.warning = message
        self.node.get_logger().warning(message, throttle_duration_sec=5.0)

    def arrival(self) -> None:
        """Record an input message arrival (for the input rate)."""
        self.arrivals.append(time.monotonic())

    def latency(self, stamp) -> None:
        """Record the age of an output when it is published: node clock now minus the camera stamp it carries.

        The camera stamp travels unchanged through every stage, so this is the latency from the camera to this
        node's output (sim time when use_sim_time is set, then it is measured against /clock).
        """
        now_ns = self.node.get_clock().now().nanoseconds
        self.latency_ms.append((now_ns - (stamp.sec * 10**9 + stamp.nanosec)) / 1e6)

    def input_rate_hz(self) -> float:
        """Input rate over the window."""
        if len(self.arrivals) < 2 or self.arrivals[-1] == self.arrivals[0]:
            return 0.0
        return (len(self.arrivals) - 1) / (self.arrivals[-1] - self.arrivals[0])

    def status(self) -> DiagnosticStatus:
        """The current status message."""
        values = dict(self.values)
        values['input_rate_hz'] = f'{self.input_rate_hz():.2f}'
        if self.processing_ms:
            p50, p95 = np.percentile(np.asarray(self.processing_ms), [50, 95])
            values['processing_ms_p50'] = f'{p50:.2f}'
            values['processing_ms_p95'] = f'{p95:.2f}'
        if self.latency_ms:
            p50, p95 = np.percentile(np.asarray(self.latency_ms), [50, 95])
            values['latency_ms_p50'] = f'{p50:.2f}'      # camera stamp -> this node's output
            values['latency_ms_p95'] = f'{p95:.2f}'
        values.update({k: str(v) for k, v in self.counters.items()})
        level = DiagnosticStatus.WARN if self.warning else DiagnosticStatus.OK
        return DiagnosticStatus(level=level, name=f'{self.node.get_fully_qualified_name()}',
                                message=self.warning or 'ok', hardware_id=self.hardware_id,
                                values=[KeyValue(key=k, value=v) for k, v in sorted(values.items())])

    def publish(self) -> None:
        """Publish the status now."""
        msg = DiagnosticArray(status=[self.status()])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.publisher.publish(msg)


class NewestWorker:
    """Process items in a worker thread, always the newest: an item still waiting is replaced, never queued.

    Nodes that are slower than their camera use it so they add no latency; `offer` returns True when it
    replaced (skipped) a waiting item, for the node's counters.
    """

    def __init__(self, process):
        self._process = process
        self._latest = None
        self._wake = threading.Condition()
        self._running = True
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def offer(self, item) -> bool:
        """Hand over the newest item; True if an unprocessed one was dropped for it."""
        with self._wake:
            skipped = self._latest is not None
            self._latest = item
            self._wake.notify()
        return skipped

    def _work(self) -> None:
        while True:
            with self._wake:
                while self._latest is None and self._running:
                    self._wake.wait(0.5)
                if not self._running:
                    return
                item, self._latest = self._latest, None
            self._process(item)

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the item in progress."""
        with self._wake:
            self._running = False
            self._wake.notify()
        self._thread.join(timeout=timeout)


class StampOrder:
    """Notices camera stamps going backwards (a bag looping, a replay), counts it and says what restarts."""

    def __init__(self, diagnostics: Diagnostics, consequence: str):
        self.diagnostics = diagnostics
        self.consequence = consequence
        self.last_ns: int | None = None

    def went_back(self, stamp_ns: int) -> bool:
        """Record this stamp; True (counted, logged) when it is older than the previous one."""
        back = self.last_ns is not None and stamp_ns < self.last_ns
        self.last_ns = stamp_ns
        if back:
            self.diagnostics.count('time_went_backwards')
            self.diagnostics.node.get_logger().warning(f'time went backwards: {self.consequence}',
                                                       throttle_duration_sec=5.0)
        return back


class OverlayPublisher:
    """An `overlay` image topic that costs nothing unless it is enabled and someone subscribes."""

    def __init__(self, node, enabled: bool, topic: str = 'overlay', qos=qos_profile_sensor_data):
        self.enabled = enabled
        self.publisher = node.create_publisher(Image, topic, qos)

    def wanted(self) -> bool:
        """True when an overlay should be drawn for this frame."""
        return self.enabled and self.publisher.get_subscription_count() > 0

    def publish(self, bgr: np.ndarray, header) -> None:
        """Publish a drawn BGR image with the source frame's header."""
        msg = Image(**numpy_to_image_fields(bgr, 'bgr8'))
        msg.header = header
        self.publisher.publish(msg)

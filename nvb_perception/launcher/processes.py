"""Start node executables as separate processes and listen to their topics (tests, demo, benchmarks).

This is what `ros2 launch` + launch_testing do on a full install; here it is plain subprocess + rclpy so it
runs wherever the wheels run. Each node runs in its own process group, ended as a whole (SIGINT, SIGTERM, SIGKILL);
started nodes are registered until stopped, so `stop_started()` ends what a failed test or run left behind.
"""
import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

from nvb_perception.errors import PerceptionError
from nvb_perception.launcher.procfs import child_processes, group_members  # noqa: F401 (child_processes: API)
from nvb_perception.ros.node_utils import message_class


def executable_path(name: str) -> str:
    """Path of a node executable: on PATH (env.sh adds the install space) or in the colcon install space."""
    found = shutil.which(name)
    if found:
        return found
    root = Path(__file__).resolve().parents[2]
    candidate = root / 'install' / 'nvb_perception' / 'lib' / 'nvb_perception' / name
    if candidate.exists():
        return str(candidate)
    raise PerceptionError(f'executable {name!r} not found; run `make setup` and `source scripts/env.sh`')


_STARTED: dict[int, 'NodeProcess'] = {}      # id -> node, from start() until the node is stopped


def stop_started(timeout: float = 10.0) -> list[str]:
    """Stop every node started in this process and not stopped yet; their titles."""
    nodes = list(_STARTED.values())
    stop_all(nodes, timeout)
    return [n.title for n in nodes]


def _send(pid: int, sig, group: bool = False) -> None:
    try:
        (os.killpg if group else os.kill)(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_all(nodes, timeout: float = 10.0) -> None:
    """Stop nodes together: SIGINT to all, then SIGTERM to those still running, then SIGKILL.

    In parallel, so a graph stops within about timeout + 5 s however many nodes it has; the SIGKILL runs in a
    finally, so a second Ctrl-C (or a test timeout) during the clean shutdown cannot leave a node running.
    """
    running = [n for n in nodes if n.running()]
    try:
        for sig, wait_s in ((signal.SIGINT, timeout), (signal.SIGTERM, 5.0)):
            for node in running:
                node.signal(sig)
            deadline = time.monotonic() + wait_s
            running = [n for n in running if n.wait(max(0.0, deadline - time.monotonic())) is None]
            if not running:
                break
    finally:
        for node in nodes:
            node.kill()


def _param_arg(key, value) -> str:
    if isinstance(value, bool):
        value = 'true' if value else 'false'
    elif isinstance(value, (list, tuple)):
        value = '[' + ','.join(repr(v) if isinstance(v, str) else str(v) for v in value) + ']'
    return f'{key}:={value}'


@dataclass
class NodeProcess:
    """One node executable with its parameters and remappings."""

    executable: str
    params: dict = field(default_factory=dict)
    remap: dict = field(default_factory=dict)
    namespace: str = ''
    params_file: str = ''
    name: str = ''
    extra_params_files: list = field(default_factory=list)     # loaded after params_file (e.g. cues.yaml)
    label: str = ''                                            # log file and messages (default: the name)
    wrapper: list = field(default_factory=list)                # runs the node, e.g. ['ip', 'netns', 'exec', 'h1']
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    def command(self) -> list[str]:
        """The argv that starts this node."""
        args = [*self.wrapper, executable_path(self.executable), '--ros-args']
        if self.name:
            args += ['-r', f'__node:={self.name}']
        if self.namespace:
            args += ['-r', f'__ns:={self.namespace}']
        return args + self.ros_args(self.log_path.parent if self.log_path else None)[1:]

    def ros_args(self, params_dir: Path | None = None) -> list[str]:
        """--ros-args with the params files, parameters and remappings (not the node name or namespace).

        With params files, `params` go into one more file written to params_dir under the node's full name:
        a `-p` value would lose against a file's node-specific entry (it counts as `/**`).
        """
        args = ['--ros-args']
        files = [p for p in (self.params_file, *self.extra_params_files) if p]
        as_file = bool(files and self.params and params_dir is not None)
        for path in files + ([str(self._write_overrides(Path(params_dir)))] if as_file else []):
            args += ['--params-file', path]
        for key, value in ({} if as_file else self.params).items():
            args += ['-p', _param_arg(key, value)]
        for src, dst in self.remap.items():
            args += ['-r', f'{src}:={dst}']
        return args

    def start(self, env: dict, log_dir: Path) -> None:
        """Start the process, its output going to log_dir/<name>.log."""
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f'{self.title}.log'
        log = open(self.log_path, 'a' if self.process else 'w')     # a restart appends to the same log
        try:
            # its own session and process group: a terminal's Ctrl-C does not reach it, stop() ends the group
            self.process = subprocess.Popen(self.command(), env=env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        finally:
            log.close()
        _STARTED[id(self)] = self

    def _write_overrides(self, folder: Path) -> Path:
        import yaml
        folder.mkdir(parents=True, exist_ok=True)
        full_name = f"{self.namespace.rstrip('/')}/{self.name or self.executable}"
        path = folder / f'{self.title}.overrides.yaml'
        path.write_text(yaml.safe_dump({full_name if full_name.startswith('/') else '/' + full_name:
                                        {'ros__parameters': dict(self.params)}}))
        return path

    @property
    def title(self) -> str:
        """How logs and messages name this process."""
        return self.label or self.name or self.executable

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ''

    def wait(self, timeout: float) -> int | None:
        """Wait for the process to exit by itself; its return code, or None on timeout."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def running(self) -> bool:
        """Started and not exited yet."""
        return self.process is not None and self.process.poll() is None

    def signal(self, sig) -> None:
        """Send sig to the node's process group (its own session, see start)."""
        if self.running():
            _send(self.process.pid, sig, group=True)

    def kill(self) -> None:
        """SIGKILL whatever is left of the process group, reap the process and forget it."""
        if self.process is not None:
            self.signal(signal.SIGKILL)
            self.wait(10.0)
            for pid in group_members(self.process.pid):      # children the node left behind, same group
                _send(pid, signal.SIGKILL)
        _STARTED.pop(id(self), None)

    def stop(self, timeout: float = 10.0) -> int | None:
        """End the process group: SIGINT (clean shutdown), then SIGTERM, then SIGKILL; the return code."""
        stop_all([self], timeout)
        return self.process.returncode if self.process else None


class ProcessGraph:
    """A set of node processes sharing one isolated environment; a context manager that always cleans up."""

    def __init__(self, nodes: list[NodeProcess], log_dir: Path, env: dict | None = None):
        self.nodes = nodes
        self.log_dir = Path(log_dir)
        self.env = dict(os.environ if env is None else env)

    def __enter__(self):
        try:
            for node in self.nodes:
                node.start(self.env, self.log_dir)
        except BaseException:
            stop_all(self.nodes)         # __exit__ does not run when __enter__ fails
            raise
        return self

    def __exit__(self, *exc):
        stop_all(self.nodes)

    def logs(self) -> str:
        """All process logs, for assertion messages."""
        return '\n'.join(f'--- {n.title} ---\n{n.log()}' for n in self.nodes)


class TopicListener:
    """An rclpy node (in its own context and thread) that stores every message of some topics, and can publish.

    Each record is (receive time as time.time_ns(), message).
    """

    def __init__(self, topics: dict[str, str], reliable: bool = True, depth: int = 100):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = Node('nvb_listener', context=self.context)
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT)
        self.messages: dict[str, list] = {t: [] for t in topics}
        self._lock = threading.Lock()
        self.subscriptions = {topic: self.node.create_subscription(message_class(msgtype), topic,
                                                                   lambda m, t=topic: self._store(t, m), qos)
                              for topic, msgtype in topics.items()}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def _store(self, topic, msg):
        with self._lock:
            self.messages[topic].append((time.time_ns(), msg))

    def publisher(self, topic: str, msgtype: str, depth: int = 10):
        """A reliable publisher in the listener's context, to feed nodes under test."""
        return self.node.create_publisher(message_class(msgtype), topic, depth)

    def wait_for_subscribers(self, publisher, n: int = 1, timeout: float = 20.0) -> bool:
        """Wait until `publisher` is matched with n subscriptions (the node under test is up)."""
        end = time.monotonic() + timeout
        while publisher.get_subscription_count() < n and time.monotonic() < end:
            time.sleep(0.02)
        return publisher.get_subscription_count() >= n

    def wait_for_publishers(self, topic: str, n: int = 1, timeout: float = 20.0) -> bool:
        """Wait until this listener's subscription of `topic` is matched with n publishers (nothing sent is lost)."""
        subscription = self.subscriptions[topic]
        end = time.monotonic() + timeout
        while subscription.get_publisher_count() < n and time.monotonic() < end:
            time.sleep(0.02)
        return subscription.get_publisher_count() >= n

    def count(self, topic: str) -> int:
        """Messages received on topic so far."""
        with self._lock:
            return len(self.messages[topic])

    def publish_until_answered(self, sends, answers, resend_s: float | None = None, gap_s: float = 0.03,
                               timeout: float = 30.0) -> bool:
        """Publish (publisher, message) pairs in order until every topic in `answers` got a new message.

        gap_s between the messages (e.g. CameraInfo before the skeletons it goes with); resend_s: publish again
        that often while nodes may still be discovering each other (None: once). Lock-step feeding for tests.
        """
        sends, counts = list(sends), {t: self.count(t) for t in answers}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for publisher, msg in sends:
                publisher.publish(msg)
                time.sleep(gap_s)
            resend = time.monotonic() + (resend_s or timeout)
            while time.monotonic() < min(resend, deadline):
                if all(self.count(t) > counts[t] for t in answers):
                    return True
                time.sleep(0.02)
        return False

    def take(self, topic: str) -> list:
        """The records of topic received so far, removed from the store (long-running listeners)."""
        with self._lock:
            records, self.messages[topic] = self.messages[topic], []
        return records

    def wait_until(self, condition, timeout: float) -> bool:
        """Wait until condition() holds, e.g. a marker that follows the last result (checked every 20 ms)."""
        end = time.monotonic() + timeout
        while not condition() and time.monotonic() < end:
            time.sleep(0.02)
        return bool(condition())

    def deleted(self, topic: str, marker_id: int) -> bool:
        """True once a MarkerArray on topic deleted marker_id."""
        with self._lock:
            records = list(self.messages[topic])
        return any(m.action == m.DELETE and m.id == marker_id for _, array in records for m in array.markers)

    def wait_for(self, topic: str, n: int, timeout: float) -> bool:
        """Wait until at least n messages arrived on topic."""
        end = time.monotonic() + timeout
        while self.count(topic) < n and time.monotonic() < end:
            time.sleep(0.02)
        return self.count(topic) >= n

    def close(self):
        """Stop listening."""
        self.executor.shutdown(timeout_sec=2)
        self._thread.join(timeout=5)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

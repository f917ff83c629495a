"""Supervise a running graph for `nvb-perception run`: end of video, --duration, --respawn, status table."""
import signal
import time

from nvb_perception.launcher.processes import ProcessGraph, TopicListener

DIAGNOSTICS = {'/diagnostics': 'diagnostic_msgs/msg/DiagnosticArray'}
DRAIN_S = 3.0                # after the last video frame, let the stages finish before stopping
COLUMNS = (('input_rate_hz', 'in Hz'), ('processing_ms_p95', 'proc p95 ms'), ('latency_ms_p95', 'latency p95 ms'),
           ('frames_skipped', 'skipped'), ('frames_dropped', 'dropped'))


class StatusBoard:
    """The newest /diagnostics status of every node, as a text table."""

    def __init__(self, listener: TopicListener):
        self.listener = listener
        self.latest = {}

    def table(self) -> str:
        for _, array in self.listener.take('/diagnostics'):
            for status in array.status:
                self.latest[status.name] = status
        rows = [('node',) + tuple(title for _, title in COLUMNS) + ('status',)]
        for name, status in sorted(self.latest.items()):
            values = {kv.key: kv.value for kv in status.values}
            rows.append((name,) + tuple(values.get(key, '-') for key, _ in COLUMNS) + (status.message[:60],))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return '\n'.join('  '.join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


class _Clock:
    """--duration and --status bookkeeping."""

    def __init__(self, args):
        self.start = time.monotonic()
        self.duration, self.every = args.duration, args.status
        self.next_status = self.start + self.every

    def expired(self) -> bool:
        return bool(self.duration) and time.monotonic() - self.start >= self.duration

    def status_due(self) -> bool:
        if not self.every or time.monotonic() < self.next_status:
            return False
        self.next_status += self.every
        return True


def _tail(text: str, lines: int = 15) -> str:
    return '\n'.join('    ' + line for line in text.strip().splitlines()[-lines:])


def _interrupt_once(*_):
    """SIGINT/SIGTERM: stop the graph; later signals are ignored so they cannot cut the nodes' shutdown short.

    The shutdown is bounded anyway (ProcessGraph escalates to SIGKILL), and the nodes live in their own sessions:
    a supervisor that died half-way through stopping them would leave them running.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _supervise(args, graph_context, check) -> int:
    """Run the graph until the videos end (check returns 0), a node fails (1), --duration passes or Ctrl-C.

    The status table is printed every --status seconds and once at the end.
    """
    clock = _Clock(args)
    code = 0
    previous = {sig: signal.signal(sig, _interrupt_once) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with TopicListener(DIAGNOSTICS, depth=200) as listener, graph_context as graph:
            board = StatusBoard(listener)
            while not clock.expired():
                time.sleep(0.2)
                code = check(graph)
                if code is not None:
                    if code == 0:
                        time.sleep(DRAIN_S)
                        print('nvb-perception: every video finished', flush=True)
                    break
                if clock.status_due():
                    print(board.table(), flush=True)
            print(board.table(), flush=True)
    except KeyboardInterrupt:
        print('nvb-perception: stopping', flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code or 0


def run_processes(nodes, log_dir, args) -> int:
    """Every node as a process; a dead one ends the run, or is restarted with --respawn."""
    players = [n for n in nodes if n.executable == 'video_publisher']
    finished, restarts = set(), {}

    def check(graph):
        for node in nodes:
            code = node.process.poll()
            if code is None or node.title in finished:
                continue
            if node in players and code == 0:
                finished.add(node.title)
                continue
            print(f'nvb-perception: {node.title} exited with code {code}:\n{_tail(node.log())}', flush=True)
            if not args.respawn or code == 2:       # 2: its configuration is wrong, a restart cannot help
                return 1
            restarts[node.title] = restarts.get(node.title, 0) + 1
            print(f'nvb-perception: restarting {node.title} (restart {restarts[node.title]})', flush=True)
            node.start(graph.env, log_dir)
        return 0 if players and len(finished) == len(players) else None

    return _supervise(args, ProcessGraph(nodes, log_dir), check)


def run_composed(nodes, args) -> int:
    """Every node in this process on one executor; same stopping rules as run_processes."""
    from nvb_perception.launcher.graph import ComposedGraph
    return _supervise(args, ComposedGraph(nodes), lambda graph: 0 if graph.players_done() else None)

"""One DDS domain per test, and no process of a test outliving it.

A test that times out or fails half-way may leave node processes publishing; on a shared domain they would
flood the next tests' topics. So each test gets a fresh ROS_DOMAIN_ID (reserved with domain_coordinator against
concurrent runs on this machine, rotated so a domain is not reused at once), and every process it started
carries a token in its environment (inherited by grandchildren, e.g. the nodes of `nvb-perception run`), by
which teardown finds and ends the survivors.
"""
import itertools
import os
import signal
import time
import uuid
from pathlib import Path

from nvb_perception.netsafety import localhost_only_env

TOKEN_VAR = 'NVB_TEST_TOKEN'
_next_domain = itertools.count(int(os.environ.get('ROS_DOMAIN_ID') or 0) + 1)
_leaked_leases = []             # domains that kept a survivor: never released, never reused in this session


def _reserve() -> tuple[int, object]:
    """A free domain id and its lease (None without domain_coordinator)."""
    try:
        import domain_coordinator
    except ImportError:
        return next(_next_domain) % 100 + 1, None
    lease = domain_coordinator.domain_id(selector=lambda: next(_next_domain) % 100 + 1)
    return int(lease.__enter__()), lease


def processes_with_token(token: str) -> list[int]:
    """PIDs of this user's processes whose environment holds TOKEN_VAR=token (never this process)."""
    needle = f'{TOKEN_VAR}={token}'.encode()
    found = []
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / 'environ').read_bytes().split(b'\0'):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != 'Z'


def end_processes(token: str, grace_s: float = 10.0) -> list[str]:
    """End every process carrying token: SIGTERM, then SIGKILL after grace_s; '<pid> <command>' of each found."""
    pids = processes_with_token(token)
    names = []
    for pid in pids:
        try:
            command = Path(f'/proc/{pid}/cmdline').read_bytes().replace(b'\0', b' ').decode(errors='replace')
            names.append(f'{pid} {command[:120]}')
        except OSError:
            names.append(str(pid))
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        pids = [p for p in pids if _alive(p)]
        for pid in pids:
            try:
                os.kill(pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        deadline = time.monotonic() + wait_s
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
    return names


class Isolation:
    """The domain and token of one test; `setup` exports them, `teardown` ends survivors and frees the domain."""

    def __init__(self):
        self.domain, self._lease = _reserve()
        self.token = uuid.uuid4().hex

    def setup(self, monkeypatch) -> None:
        monkeypatch.setenv(TOKEN_VAR, self.token)
        env = localhost_only_env({}, domain_id=self.domain, force=True)
        for key, value in env.items():
            monkeypatch.setenv(key, value)

    def teardown(self) -> list[str]:
        """End what the test left running; the survivors found (empty when the test cleaned up after itself)."""
        from nvb_perception.launcher.processes import stop_started
        left = [f'node {title}' for title in stop_started()]
        left += end_processes(self.token)
        if self._lease is not None:
            if processes_with_token(self.token):
                _leaked_leases.append(self._lease)
            else:
                self._lease.__exit__(None, None, None)
        return left

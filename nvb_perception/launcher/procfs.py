"""What /proc says about processes (Linux): children of a process, members of a process group."""
from pathlib import Path


def _proc_stats():
    """(pid, command name, the stat fields after the name) of every process (from /proc; Linux)."""
    for entry in Path('/proc').iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / 'stat').read_text()
        except OSError:
            continue
        yield int(entry.name), stat[stat.index('(') + 1:stat.rindex(')')], stat[stat.rindex(')') + 2:].split()


def child_processes(pid: int) -> dict[int, str]:
    """{pid: command name} of the processes whose parent is `pid`."""
    return {child: name for child, name, fields in _proc_stats() if int(fields[1]) == pid}


def group_members(pgid: int) -> list[int]:
    """PIDs of the processes in process group pgid."""
    return [pid for pid, _, fields in _proc_stats() if int(fields[2]) == pgid]

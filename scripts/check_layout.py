"""Check the package's rooms: import cycles, runtime code importing offline code, file sizes, node sizes.

    python scripts/check_layout.py          # a table, then RESULT {...} as the last line; exit 1 on a violation

Runtime rooms are what a deployed robot imports (the stages, backends, I/O, types and `ros/`); offline rooms are
`export/`, `datasets/`, `evaluation/`, `training/`, `launcher/` and `offline/`. Every import counts, including
imports inside functions: a lazy import is still a dependency.
"""
import ast
import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = 'nvb_perception'
OFFLINE_ROOMS = ('export', 'datasets', 'evaluation', 'training', 'launcher', 'offline')
MAX_RUNTIME_LINES = 300
MAX_NODE_LINES = 200


def node_executables(root: Path) -> list[str]:
    """The node modules, from the spec table (nvb_perception/nodes.py, read as a file: no package import)."""
    spec = importlib.util.spec_from_file_location('node_specs', root / PACKAGE / 'nodes.py')
    table = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = table          # dataclasses look their module up while the file runs
    spec.loader.exec_module(table)
    return [node.executable for node in table.NODES]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in sorted((root / PACKAGE).rglob('*.py')):
        name = '.'.join(path.relative_to(root).with_suffix('').parts)
        found[name.removesuffix('.__init__')] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules a file imports (anywhere in the file)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith(PACKAGE))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            for alias in node.names:
                full = f'{node.module}.{alias.name}'
                out.add(full if full in known else node.module)
    return {m for m in out if m in known}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(start):
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        cycles.append(sorted(group))
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return cycles


def is_offline(module: str) -> bool:
    """True for a module in an offline room (nvb_perception.export.lifter, nvb_perception.training, ...)."""
    parts = module.split('.')
    return len(parts) > 1 and parts[1] in OFFLINE_ROOMS


def check(root: Path = ROOT) -> dict:
    """Every measure of the layout, with the offending names."""
    known = modules(root)
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    runtime = [n for n in known if not is_offline(n)]
    lines = {n: len(known[n].read_text().splitlines()) for n in known}
    bad_imports = sorted(f'{n} -> {m}' for n in runtime for m in graph[n] if is_offline(m))
    long_files = sorted(f'{n} ({lines[n]})' for n in runtime if lines[n] > MAX_RUNTIME_LINES)
    node_lines = {n: lines[f'{PACKAGE}.ros.{n}'] for n in node_executables(root) if f'{PACKAGE}.ros.{n}' in lines}
    return {'cycles': import_cycles(graph), 'runtime_imports_offline': bad_imports,
            'runtime_files_over_300': long_files, 'node_lines': node_lines}


def main() -> int:
    report = check()
    for title, key in (('import cycles', 'cycles'),
                       ('runtime modules importing offline rooms', 'runtime_imports_offline'),
                       (f'runtime files over {MAX_RUNTIME_LINES} lines', 'runtime_files_over_300')):
        print(f'{title}: {len(report[key])}')
        for item in report[key]:
            print(f'  {item}')
    print('node file lines: ' + ', '.join(f'{n} {c}' for n, c in report['node_lines'].items()))
    result = {'import_cycles': len(report['cycles']), 'runtime_imports_offline': len(report['runtime_imports_offline']),
              'runtime_files_over_300': len(report['runtime_files_over_300']),
              'max_node_lines': max(report['node_lines'].values())}
    print('RESULT ' + json.dumps(result))
    ok = not (result['import_cycles'] or result['runtime_imports_offline'] or result['runtime_files_over_300']
              or result['max_node_lines'] > MAX_NODE_LINES)
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())

"""Write docs/nodes.md from the node table and the parameters each node really declares.

    python scripts/write_node_docs.py            # (re)write docs/nodes.md
    python scripts/write_node_docs.py --check    # exit 1 if docs/nodes.md is not what would be written

Topics come from nvb_perception/nodes.py. Parameters come from the nodes themselves: every node class is created
in this process (own rclpy Context, autostart:=false so no model is loaded, a harmless source/output for the
player and the recorder) and its declared parameters are read with describe_parameters(). A node that cannot be
created stops the script with an error naming it; the file is then left as it was.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / 'docs' / 'nodes.md'
ASSETS = '$NVB_PERCEPTION_ASSETS'      # model paths are shown under this name, not this machine's folder
BUILTIN = ('use_sim_time', 'start_type_description_service')    # rclpy declares them on every node
COMMON = ('autostart',)                                            # every managed node (ManagedNode)
TYPES = {1: 'bool', 2: 'int', 3: 'float', 4: 'string', 5: 'byte[]', 6: 'bool[]', 7: 'int[]', 8: 'float[]',
         9: 'string[]'}


@dataclass
class Parameter:
    """One declared parameter, as the node describes it."""

    name: str
    type: str
    default: object
    constraint: str
    read_only: bool
    description: str


@dataclass
class NodeInfo:
    """What a created node declares and which topics it opened."""

    parameters: list[Parameter] = field(default_factory=list)
    publishers: set[str] = field(default_factory=set)
    subscriptions: set[str] = field(default_factory=set)


class NodeBuildError(RuntimeError):
    """A node class could not be created (the message names the node)."""


def _overrides(spec, scratch: Path) -> list:
    """Parameter overrides that let the node be created without models, a camera or an existing bag."""
    from rclpy.parameter import Parameter as RosParameter
    values = {'autostart': False}
    if spec.node == 'video_publisher':
        values['source'] = str(scratch)                   # any existing path: nothing is played without spinning
    if spec.node == 'recorder':
        values.update(output=str(scratch / 'bag'), topics=['unused'])
    return [RosParameter(name, value=value) for name, value in values.items()]


def _constraint(desc) -> str:
    if desc.additional_constraints:
        return desc.additional_constraints.removeprefix('Must be one of: ').replace(', ', ' \\| ')
    for ranges in (desc.floating_point_range, desc.integer_range):
        if ranges:
            return f'{_format(ranges[0].from_value)} .. {_format(ranges[0].to_value)}'
    return ''


def describe(spec, context, scratch: Path) -> NodeInfo:
    """Create the node of one spec, read its parameters and topics, destroy it (NodeBuildError on failure)."""
    from rclpy.node import Node
    defaults, declare_parameter = {}, Node.declare_parameter

    def recording(self, name, value=None, *args, **kwargs):     # the default as declared, not as overridden
        defaults.setdefault(name, value)
        return declare_parameter(self, name, value, *args, **kwargs)

    Node.declare_parameter = recording
    try:
        cls = getattr(importlib.import_module(spec.module), spec.cls)
        node = cls(context=context, parameter_overrides=_overrides(spec, scratch))
    except Exception as error:          # noqa: BLE001 - any failure is reported with the node's name
        raise NodeBuildError(f'{spec.node}: cannot create {spec.module}.{spec.cls} ({type(error).__name__}: '
                             f'{error})') from error
    finally:
        Node.declare_parameter = declare_parameter
    try:
        names = sorted(node._parameters)
        info = NodeInfo()
        declared = dict(zip(names, node.describe_parameters(names)))
        for name in node._parameters:              # declaration order
            desc = declared[name]
            info.parameters.append(Parameter(name, TYPES.get(desc.type, str(desc.type)),
                                             defaults.get(name, node.get_parameter(name).value),
                                             _constraint(desc), desc.read_only,
                                             desc.description))
        info.publishers = {p.topic_name for p in node.publishers}
        info.subscriptions = {s.topic_name for s in node.subscriptions}
        return info
    finally:
        close = getattr(node, 'close', None)
        if close:
            with contextlib.redirect_stdout(io.StringIO()):       # the recorder prints its bag summary
                close()
        node.destroy_node()


def describe_all(specs=None) -> dict[str, NodeInfo]:
    """NodeInfo of every node of the table, by node name; NodeBuildError lists every node that failed."""
    import rclpy

    from nvb_perception.nodes import NODES
    context = rclpy.Context()
    rclpy.init(args=[], context=context)
    found, errors = {}, []
    assets = os.environ.get('NVB_PERCEPTION_ASSETS')
    os.environ['NVB_PERCEPTION_ASSETS'] = ASSETS
    try:
        with tempfile.TemporaryDirectory(prefix='nvb_node_docs_') as scratch:
            for spec in specs or NODES:
                try:
                    found[spec.node] = describe(spec, context, Path(scratch))
                except NodeBuildError as error:
                    errors.append(str(error))
    finally:
        rclpy.try_shutdown(context=context)
        if assets is None:
            del os.environ['NVB_PERCEPTION_ASSETS']
        else:
            os.environ['NVB_PERCEPTION_ASSETS'] = assets
    if errors:
        raise NodeBuildError('; '.join(errors))
    return found


def _format(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if value else "''"
    if hasattr(value, '__len__'):
        return '[' + ', '.join(_format(v) for v in value) + ']'
    return str(value)


def _cell(text: str) -> str:
    return str(text).replace('|', '\\|').replace('\n', ' ')


def _topics(title: str, topics) -> list[str]:
    if not topics:
        return []
    lines = [f'**{title}**', '', '| Topic | Type | QoS | When |', '|---|---|---|---|']
    for t in topics:
        lines.append(f'| `{t.name}` | `{t.type}` | {t.qos} | {_cell(t.when) or "always"} |')
    return lines + ['']


def _parameters(params: list[Parameter]) -> list[str]:
    lines = ['| Parameter | Type | Default | Range / choices | Set | Description |', '|---|---|---|---|---|---|']
    for p in params:
        lines.append(f'| `{p.name}` | {p.type} | `{_cell(_format(p.default))}` | {p.constraint} | '
                     f'{"read-only" if p.read_only else "live"} | {_cell(p.description)} |')
    return lines + ['']


def render(infos: dict[str, NodeInfo]) -> str:
    """The text of docs/nodes.md."""
    from nvb_perception.nodes import DIAGNOSTICS, NODES
    lines = ['# Nodes and parameters', '',
             '<!-- Generated by scripts/write_node_docs.py from nvb_perception/nodes.py and the parameters each '
             'node declares. Do not edit: run `python scripts/write_node_docs.py`. -->', '',
             'Topic names are relative: they resolve in the node\'s namespace (`cam0/skeletons_2d` with '
             '`--camera cam0`). Nodes that take the camera get the `image` and `camera_info` remappings of '
             '`nvb-perception run --camera NS=IMAGE_TOPIC` and of the launch file\'s `image:=` / `camera_info:=`. '
             f'Every node also publishes `{DIAGNOSTICS.name}` (`{DIAGNOSTICS.type}`).', '',
             '**Set**: *live* parameters can be changed while the node runs (`ros2 param set /pose_node '
             'max_people 2`; an invalid value is refused with the reason); *read-only* ones take effect only at '
             'start (params file, `--set NODE.PARAM=VALUE`, `--ros-args -p`). A model path default is shown under '
             f'`{ASSETS}` (the assets folder, `.assets/` of the checkout unless that variable is set).', '',
             '| Node | Stage flag | Does |', '|---|---|---|']
    for spec in NODES:
        stage = f'`{spec.stage}`' + ('' if spec.default_on else ' (off by default)') if spec.stage else 'helper'
        lines.append(f'| [`{spec.node}`](#{spec.node}) | {stage} | {_cell(spec.summary)} |')
    managed = [s.node for s in NODES if any(p.name in COMMON for p in infos[s.node].parameters)]
    lines += ['', '## Common parameters', '',
              'Every node declares `use_sim_time` (bool, default `false`; true: use `/clock`, for bag replay).']
    if managed:
        lines += ['The managed (lifecycle) nodes, ' + ', '.join(f'`{n}`' for n in managed) + ', also declare:', '']
        lines += _parameters([p for p in infos[managed[0]].parameters if p.name in COMMON])
    else:
        lines.append('')
    for spec in NODES:
        info = infos[spec.node]
        lines += [f'## {spec.node}', '',
                  f'{spec.summary[0].upper()}{spec.summary[1:]}. Executable `{spec.executable}`, class '
                  f'`{spec.module}.{spec.cls}`' + (f', stage flag `{spec.stage}`' if spec.stage else '') + '.']
        if spec.takes_image:
            lines.append('Takes the camera\'s `image` / `camera_info` remappings.')
        if spec.params_files:
            lines.append('Also loads ' + ', '.join(f'`config/{f}`' for f in spec.params_files)
                         + ' after the params file.')
        lines.append('')
        lines += _topics('Subscribes', spec.inputs) + _topics('Publishes', spec.outputs)
        own = [p for p in info.parameters if p.name not in BUILTIN + COMMON]
        lines += _parameters(own) if own else ['No parameters of its own.', '']
    return '\n'.join(lines).rstrip() + '\n'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check', action='store_true', help='exit 1 if docs/nodes.md is stale; write nothing')
    parser.add_argument('--output', type=Path, default=OUTPUT, help='file to write or check (default: %(default)s)')
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        text = render(describe_all())
    except NodeBuildError as error:
        print(f'write_node_docs: {error}', file=sys.stderr)
        return 2
    current = args.output.read_text() if args.output.is_file() else ''
    if args.check:
        if current != text:
            print(f'write_node_docs: {args.output} is stale; run `python scripts/write_node_docs.py`',
                  file=sys.stderr)
            return 1
        print(f'write_node_docs: {args.output} is current')
        return 0
    if current != text:
        args.output.write_text(text)
    print(f'write_node_docs: wrote {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())

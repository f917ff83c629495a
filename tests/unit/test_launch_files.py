"""Launch files are checked here without the launch packages (not on PyPI): syntax, arguments, executables.

The launch file is run against stand-ins of `launch` and `launch_ros` that record what it builds, so the nodes
it derives from the node table (nvb_perception/nodes.py) are checked as launched, not as written.
"""
import ast
import runpy
import sys
import types
from pathlib import Path
from unittest import mock

import pytest

from nvb_perception.nodes import NODES, STAGES

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


class Recorded:
    """A launch object stand-in: keeps its arguments."""

    def __init__(self, *args, **kwargs):
        self.kind, self.args, self.kwargs = type(self).__name__, args, kwargs

    def __repr__(self):
        return f'{self.kind}{self.args}'


def _stub_modules() -> dict:
    names = {'launch': ['LaunchDescription'], 'launch.actions': ['DeclareLaunchArgument'],
             'launch.conditions': ['IfCondition'],
             'launch.substitutions': ['LaunchConfiguration', 'PathJoinSubstitution', 'PythonExpression'],
             'launch_ros': [], 'launch_ros.actions': ['Node'], 'launch_ros.substitutions': ['FindPackageShare']}
    modules = {}
    for module, classes in names.items():
        modules[module] = types.ModuleType(module)
        for cls in classes:
            setattr(modules[module], cls, type(cls, (Recorded,), {}))
    return modules


def launched(path: Path) -> tuple[dict, list]:
    """Run generate_launch_description() with stand-ins: ({argument: DeclareLaunchArgument}, [Node])."""
    with mock.patch.dict(sys.modules, _stub_modules()):
        description = runpy.run_path(str(path))['generate_launch_description']()
    entities = description.args[0]
    arguments = {e.args[0]: e for e in entities if e.kind == 'DeclareLaunchArgument'}
    return arguments, [e for e in entities if e.kind == 'Node']


def entry_points() -> set[str]:
    """The console scripts setup.py installs (setup() is replaced by a recorder)."""
    with mock.patch('setuptools.setup') as setup:
        runpy.run_path(str(ROOT / 'setup.py'))
    scripts = setup.call_args.kwargs['entry_points']['console_scripts']
    return {line.split('=')[0].strip(): line.split('=')[1].strip() for line in scripts}


def test_there_is_a_launch_file():
    assert LAUNCH_FILES


def test_setup_installs_every_node_of_the_table():
    scripts = entry_points()
    for spec in NODES:
        assert f'{spec.executable} = {scripts[spec.executable]}' == spec.entry_point


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_declares_the_documented_arguments(path):
    arguments, _ = launched(path)
    assert {'namespace', 'image', 'params_file', 'use_sim_time', 'video', *STAGES} <= set(arguments)
    for name, argument in arguments.items():
        assert argument.kwargs.get('description'), name
    tree = ast.parse(path.read_text())
    used = {c.args[0].value for c in ast.walk(tree) if isinstance(c, ast.Call)
            and getattr(c.func, 'id', '') == 'LaunchConfiguration' and isinstance(c.args[0], ast.Constant)}
    assert used <= set(arguments), used - set(arguments)


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_only_installed_executables(path):
    _, nodes = launched(path)
    executables = {n.kwargs['executable'] for n in nodes}
    assert executables and executables <= set(entry_points())


def test_the_node_table_drives_the_launch_file():
    arguments, nodes = launched(ROOT / 'launch' / 'perception.launch.py')
    by_exe = {n.kwargs['executable']: n for n in nodes}
    assert set(by_exe) == {spec.executable for spec in STAGES.values()} | {'video_publisher'}
    for stage, spec in STAGES.items():
        node = by_exe[spec.executable]
        assert arguments[stage].kwargs['default_value'] == ('true' if spec.default_on else 'false')
        assert node.kwargs['condition'].args[0].args == (stage,)         # IfCondition(LaunchConfiguration(stage))
        assert bool(node.kwargs['remappings']) == spec.takes_image
        files = [p.args[0][-1] for p in node.kwargs['parameters'] if getattr(p, 'kind', '') == 'PathJoinSubstitution']
        assert files == list(spec.params_files)
    assert arguments['actions'].kwargs['default_value'] == 'false' and by_exe['cue_node'].kwargs['remappings']


def test_params_file_sections_match_node_names():
    import yaml
    params = yaml.safe_load((ROOT / 'config' / 'perception.yaml').read_text())
    # '/**/<node>' applies in every namespace (one graph per camera)
    assert all(key == '/**' or key.startswith('/**/') for key in params)
    assert {key.removeprefix('/**/') for key in params} - {'/**'} <= {spec.node for spec in NODES}
    assert all('ros__parameters' in v for v in params.values())


def test_rviz_config_shows_the_published_topics():
    import yaml
    rviz = yaml.safe_load((ROOT / 'config' / 'nvb_perception.rviz').read_text())
    displays = rviz['Visualization Manager']['Displays']
    topics = {d['Topic']['Value'] for d in displays if 'Topic' in d}
    assert topics == {'overlay', 'skeleton_markers', 'risk_markers', 'cue_markers'}
    assert rviz['Visualization Manager']['Global Options']['Fixed Frame'] == 'camera_optical_frame'

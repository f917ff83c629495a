"""Launch files are checked here without the launch packages (not on PyPI): syntax, arguments, executables."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = sorted((ROOT / 'launch').glob('*.launch.py'))


def entry_points() -> set[str]:
    text = (ROOT / 'setup.py').read_text()
    nodes = set(re.findall(r"'(\w+)'", re.search(r'NODES = \[(.*?)\]', text).group(1)))
    return nodes


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, 'id', '') == name]


def test_there_is_a_launch_file():
    assert LAUNCH_FILES


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_declares_the_documented_arguments(path):
    tree = ast.parse(path.read_text())
    declared = {c.args[0].value for c in calls(tree, 'DeclareLaunchArgument')}
    assert {'namespace', 'image', 'params_file', 'use_sim_time'} <= declared
    for c in calls(tree, 'DeclareLaunchArgument'):
        assert any(k.arg == 'description' for k in c.keywords), c.args[0].value
    used = set(re.findall(r"LaunchConfiguration\('(\w+)'\)", path.read_text()))
    assert used <= declared, used - declared


@pytest.mark.parametrize('path', LAUNCH_FILES, ids=lambda p: p.name)
def test_launch_file_starts_only_installed_executables(path):
    tree = ast.parse(path.read_text())
    executables = {k.value.value for c in calls(tree, 'Node') for k in c.keywords if k.arg == 'executable'}
    assert executables and executables <= entry_points()


def test_params_file_sections_match_node_names():
    import yaml
    params = yaml.safe_load((ROOT / 'config' / 'perception.yaml').read_text())
    # '/**/<node>' applies in every namespace (one graph per camera)
    assert all(key == '/**' or key.startswith('/**/') for key in params)
    assert {key.removeprefix('/**/') for key in params} - {'/**'} <= entry_points()
    assert all('ros__parameters' in v for v in params.values())


def test_rviz_config_shows_the_published_topics():
    import yaml
    rviz = yaml.safe_load((ROOT / 'config' / 'nvb_perception.rviz').read_text())
    displays = rviz['Visualization Manager']['Displays']
    topics = {d['Topic']['Value'] for d in displays if 'Topic' in d}
    assert topics == {'overlay', 'skeleton_markers', 'risk_markers', 'cue_markers'}
    assert rviz['Visualization Manager']['Global Options']['Fixed Frame'] == 'camera_optical_frame'

"""docs/nodes.md is what scripts/write_node_docs.py writes today, and the node table matches the real nodes."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from nvb_perception.nodes import NODES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'write_node_docs.py'
ROS_BUILTIN_TOPICS = {'/parameter_events', '/rosout', '/diagnostics'}


def _script():
    spec = importlib.util.spec_from_file_location('write_node_docs', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module            # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def infos():
    return _script().describe_all()


def test_node_docs_are_current():
    result = subprocess.run([sys.executable, str(SCRIPT), '--check'], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr + '\nrun: python scripts/write_node_docs.py'


def test_every_node_of_the_table_is_documented(infos):
    text = (ROOT / 'docs' / 'nodes.md').read_text()
    for spec in NODES:
        assert f'\n## {spec.node}\n' in text
        assert infos[spec.node].parameters, spec.node


@pytest.mark.parametrize('spec', NODES, ids=lambda s: s.node)
def test_the_table_lists_the_topics_each_node_opens(spec, infos):
    """With default parameters: every unconditional table topic is opened, every opened topic is in the table."""
    info = infos[spec.node]
    opened = {'out': info.publishers - ROS_BUILTIN_TOPICS, 'in': info.subscriptions - ROS_BUILTIN_TOPICS}
    listed = {'out': spec.outputs, 'in': spec.inputs}
    for way in ('out', 'in'):
        names = {'/' + t.name.lstrip('/') for t in listed[way]}
        always = {'/' + t.name.lstrip('/') for t in listed[way] if not t.when}
        assert always <= opened[way], (way, always - opened[way])
        assert opened[way] <= names, (way, opened[way] - names)


def test_a_node_that_cannot_be_built_is_named(monkeypatch):
    from dataclasses import replace
    script = _script()
    broken = replace(NODES[0], node='broken_node', cls='NoSuchClass')
    with pytest.raises(script.NodeBuildError, match='broken_node: cannot create'):
        script.describe_all([broken])

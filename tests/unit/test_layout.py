"""The package's rooms hold: no import cycle, runtime code imports nothing offline, small files and nodes."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'scripts' / 'check_layout.py'


@pytest.fixture(scope='module')
def layout():
    spec = importlib.util.spec_from_file_location('check_layout', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles(layout):
    assert layout.check()['cycles'] == []


def test_runtime_rooms_import_nothing_offline(layout):
    assert layout.check()['runtime_imports_offline'] == []


def test_runtime_files_and_nodes_stay_small(layout):
    report = layout.check()
    assert report['runtime_files_over_300'] == []
    assert set(report['node_lines']) >= {'pose_node', 'cue_node', 'action_node', 'video_publisher'}
    assert max(report['node_lines'].values()) < layout.MAX_NODE_LINES, report['node_lines']


def test_the_check_sees_a_cycle_and_an_offline_import(layout, tmp_path):
    """The checks can fail: a fake package with a lazy import cycle and a stage importing training code."""
    pkg = tmp_path / 'nvb_perception'
    for folder in ('pose2d', 'training'):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / '__init__.py').write_text('')
    (pkg / '__init__.py').write_text('')
    (pkg / 'nodes.py').write_text('NODES = ()\n')
    (pkg / 'pose2d' / 'stage.py').write_text('def f():\n    from nvb_perception.training import fit\n')
    (pkg / 'training' / 'fit.py').write_text('from nvb_perception.training.data import x\n')
    (pkg / 'training' / 'data.py').write_text('def g():\n    from nvb_perception.training import fit\n')
    report = layout.check(tmp_path)
    assert report['cycles'] == [['nvb_perception.training.data', 'nvb_perception.training.fit']]
    assert report['runtime_imports_offline'] == ['nvb_perception.pose2d.stage -> nvb_perception.training.fit']


def test_check_layout_prints_a_result_line():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60).stdout
    assert out.strip().splitlines()[-1].startswith('RESULT {"import_cycles": 0, "runtime_imports_offline": 0')

"""A short soak in CI: the full graph at 30 Hz on looped real video for 2 minutes, memory and latency flat.

`make soak` runs the same script for 10 minutes.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_two_minute_soak(assets, tmp_path):
    """Memory flat and latency not growing after a 60 s warm-up.

    On a loaded machine cue_node's models still grow their buffers until ~90 s (233 MB at start, a plateau near
    295 MB), so the RSS reference is taken at 60 s, once the first people were all seen.
    """
    out = tmp_path / 'soak'
    proc = subprocess.run([sys.executable, str(ROOT / 'benchmarks' / 'soak.py'), '--minutes', '2', '--warmup-s', '60',
                           '--out', str(out)], capture_output=True, text=True, timeout=380)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('RESULT ')
    result = json.loads(last[len('RESULT '):])
    assert result == json.loads((out / 'result.json').read_text())
    assert set(result['rss_drift_by_node']) >= {'pose_node', 'lifting_node', 'risk_node', 'cue_node',
                                                'video_publisher'}, result
    assert result['rss_drift'] <= 0.10, result                  # flat memory
    assert result['risk_fps'] > 1.0, result                     # the graph kept producing
    # no growing queues: the last minute's latency is not far above the first minute's
    assert result['p95_ms_last_minute'] <= 2.0 * result['p95_ms_first_minute'] + 100, result

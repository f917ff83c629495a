"""Per-person cue timelines for offline runs: cue events as CSV and a PNG plot (one row per person and cue).

    timeline = CueTimeline()
    for frame in ...:
        timeline.add(result.cues)                    # types.CueFrame of each processed frame
    timeline.write(out_dir)                          # cues.csv (one row per event) + cue_timeline.png

An event that is still active at the end is closed at the last frame's stamp (flagged `open_at_end`).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Event:
    """One cue event of one person."""

    track_id: int
    name: str
    start_ns: int
    end_ns: int
    confidence: float
    evidence: tuple = ()
    explanation: str = ''
    open_at_end: bool = False


@dataclass
class CueTimeline:
    """Collects events from CueFrames (keyed by track, cue and start)."""

    events: dict = field(default_factory=dict)
    first_ns: int | None = None
    last_ns: int | None = None

    def add(self, frame) -> None:
        """Add one CueFrame."""
        t = frame.stamp.stamp_ns
        self.first_ns = t if self.first_ns is None else min(self.first_ns, t)
        self.last_ns = t if self.last_ns is None else max(self.last_ns, t)
        for c in frame.cues:
            key = (c.track_id, c.name, c.start_ns)
            self.events[key] = Event(c.track_id, c.name, c.start_ns, c.end_ns if not c.active else t,
                                     c.confidence, c.evidence, c.explanation, open_at_end=c.active)

    def rows(self) -> list[Event]:
        """Events sorted by person, start, cue."""
        return sorted(self.events.values(), key=lambda e: (e.track_id, e.start_ns, e.name))

    def write_csv(self, path: Path) -> None:
        with open(path, 'w', newline='') as f:
            w = csv.writer(f)
            w.writerow(['track_id', 'cue', 'start_s', 'end_s', 'duration_s', 'confidence', 'open_at_end',
                        'evidence', 'explanation'])
            t0 = self.first_ns or 0
            for e in self.rows():
                ev = '; '.join(f'{n}={v:.4g}' for n, v in e.evidence)
                w.writerow([e.track_id, e.name, f'{(e.start_ns - t0) * 1e-9:.3f}', f'{(e.end_ns - t0) * 1e-9:.3f}',
                            f'{(e.end_ns - e.start_ns) * 1e-9:.3f}', f'{e.confidence:.3f}', int(e.open_at_end),
                            ev, e.explanation])

    def write_png(self, path: Path) -> None:
        """One horizontal bar per event, a row per (person, cue), alpha = confidence."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        rows = sorted({(e.track_id, e.name) for e in self.events.values()})
        t0 = self.first_ns or 0
        fig, ax = plt.subplots(figsize=(10, 0.3 * max(len(rows), 3) + 1.2))
        for k, (tid, name) in enumerate(rows):
            bars = [((e.start_ns - t0) * 1e-9, max((e.end_ns - e.start_ns) * 1e-9, 0.05), e.confidence)
                    for e in self.events.values() if (e.track_id, e.name) == (tid, name)]
            for x, w, conf in bars:
                ax.broken_barh([(x, w)], (k - 0.4, 0.8), color=f'C{tid % 10}', alpha=0.3 + 0.7 * conf)
        ax.set_yticks(range(len(rows)), [f'#{tid} {name}' for tid, name in rows], fontsize=7)
        ax.set_xlabel('time since the first frame (s)')
        end = ((self.last_ns or 0) - t0) * 1e-9
        ax.set_xlim(0, max(end, 1.0))
        ax.set_title('non-verbal cues per person (bar opacity = confidence)')
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        """Write cues.csv and cue_timeline.png into out_dir; returns both paths."""
        out_dir = Path(out_dir)
        csv_path, png_path = out_dir / 'cues.csv', out_dir / 'cue_timeline.png'
        self.write_csv(csv_path)
        self.write_png(png_path)
        return csv_path, png_path


class CueRecorder:
    """The offline hook: run a CueStage on each (bgr, Skeleton2DFrame) and keep the timeline.

        recorder = CueRecorder(CueStage.from_config(CueStageConfig()))
        recorder(bgr, skeleton_frame)        # in the offline loop, after the pose stage
        recorder.close(out_dir)              # cues.csv + cue_timeline.png
    """

    def __init__(self, stage):
        self.stage, self.timeline, self.frames = stage, CueTimeline(), 0

    def __call__(self, bgr, skeletons, skeletons3d=None):
        """Process one frame; returns the stage result (for overlays)."""
        result = self.stage(bgr, skeletons, skeletons3d)
        self.timeline.add(result.cues)
        self.frames += 1
        return result

    def close(self, out_dir: Path) -> tuple[Path, Path]:
        """Write the timeline and release the models."""
        self.stage.close()
        return self.timeline.write(out_dir)

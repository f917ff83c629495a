"""Run 2D pose over every frame of a video file or image folder; write an MCAP bag, an overlay video and a CSV.

    nvb-process-video vtest.avi --out out/vtest [--max-frames 300] [--max-people 4] [--no-smoothing]

Deterministic: the same input gives the same skeletons (and the same as the live pose_node with stamp:=source).
"""
import argparse
import shutil
import sys
from pathlib import Path

from nvb_perception.errors import PerceptionError


def add_pose_args(parser: argparse.ArgumentParser) -> None:
    """Options shared with nvb-process-bag."""
    parser.add_argument('--out', type=Path, required=True, help='output folder (created; replaced with --force)')
    parser.add_argument('--force', action='store_true', help='replace an existing output folder')
    parser.add_argument('--model-dir', type=Path, default=None, help='ONNX models (default: <assets>/models)')
    parser.add_argument('--variant', default='full', choices=('lite', 'full', 'heavy'))
    parser.add_argument('--max-people', type=int, default=4)
    parser.add_argument('--no-smoothing', action='store_true')
    parser.add_argument('--tile-px', type=int, default=0,
                        help='also detect in overlapping tiles of this size (small, far-away people; 0 = off)')
    parser.add_argument('--storage', default='mcap', choices=('mcap', 'sqlite3'))
    parser.add_argument('--frame-id', default='camera_optical_frame')
    parser.add_argument('--cues', action='store_true', help='also run the cue stage: cues.csv + cue_timeline.png')


def make_estimator(args):
    """PoseEstimator from the shared options."""
    from nvb_perception.assets import model_dir
    from nvb_perception.pose2d.estimator import PoseConfig, PoseEstimator
    return PoseEstimator.from_config(PoseConfig(model_dir=str(args.model_dir or model_dir()),
                                                landmark_variant=args.variant, max_people=args.max_people,
                                                smoothing=not args.no_smoothing,
                                                detector_tile_px=getattr(args, 'tile_px', 0)))


def make_cue_recorder(args):
    """The cue stage's offline recorder when --cues is given, else None."""
    if not args.cues:
        return None
    from nvb_perception.assets import model_dir
    from nvb_perception.cues.stage import CueStage, CueStageConfig
    from nvb_perception.offline.cue_timeline import CueRecorder
    return CueRecorder(CueStage.from_config(CueStageConfig(model_dir=str(args.model_dir or model_dir()))))


def finish_cues(recorder, out: Path) -> None:
    """Write the cue timeline of an offline run."""
    if recorder is not None:
        csv_path, png = recorder.close(out)
        print(f'wrote {csv_path.name}, {png.name}')


def prepare_out(args) -> Path:
    """Create the output folder (refusing to overwrite unless --force)."""
    if args.out.exists():
        if not args.force:
            raise PerceptionError(f'{args.out} exists; use --force to replace it')
        shutil.rmtree(args.out)
    args.out.mkdir(parents=True)
    return args.out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='nvb-process-video', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('source', type=Path, help='video file or image folder')
    parser.add_argument('--max-frames', type=int, default=None)
    add_pose_args(parser)
    args = parser.parse_args(argv)
    from nvb_perception.io.video import iter_video_frames, video_fps
    from nvb_perception.offline.pose_run import Outputs, run
    from nvb_perception.types import Stamp
    try:
        if not args.source.exists():
            raise PerceptionError(f'video source not found: {args.source}')
        estimator = make_estimator(args)
        out = prepare_out(args)
        fps = video_fps(args.source)
        frames = ((Stamp(f.stamp_ns, args.frame_id), f.bgr)
                  for f in iter_video_frames(args.source, max_frames=args.max_frames))
        outputs = Outputs(out / 'skeletons_bag', out / 'overlay.mp4', out / 'skeletons.csv', fps, args.storage)
        cues = make_cue_recorder(args)
        summary = run(estimator, frames, outputs, progress_every=100, cue_recorder=cues)
        finish_cues(cues, out)
    except PerceptionError as error:
        print(f'nvb-process-video: {error}', file=sys.stderr)
        return 2
    print(f'{args.source.name}: {summary.text()}')
    print(f'wrote {out}/skeletons_bag, overlay.mp4, skeletons.csv')
    return 0


if __name__ == '__main__':
    sys.exit(main())

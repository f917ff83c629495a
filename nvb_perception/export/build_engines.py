"""Pre-build TensorRT engines on this device, so that node start never waits minutes for a build.

Run it on the target GPU (engines are specific to the GPU and the TensorRT version):

    nvb-build-engines engines/                          # every *.onnx in the folder, fp32
    nvb-build-engines engines/lifter.onnx --precision fp16 --shapes keypoints_2d:1x243x17x2:1x243x17x2:8x243x17x2
    nvb-build-engines engines/ --engine-dir engines --force   # rebuild even if cached

--shapes NAME:MIN:OPT:MAX gives the optimization profile of a dynamic input (dims joined by x); a shape for an
input a model does not have is ignored for that model. Exit codes: 0 built or cached, 1 a build failed,
2 bad arguments or TensorRT not usable here.
"""
import argparse
import logging
import sys
from pathlib import Path

from nvb_perception.backends.engines import DEFAULT_ENGINE_DIR, PRECISIONS, load_or_build_engine, normalize_shapes
from nvb_perception.errors import ConfigError, PerceptionError


def parse_shape_arg(text: str) -> tuple[str, tuple[tuple[int, ...], ...]]:
    """Parse 'name:1x4:8x4:32x4' into ('name', ((1, 4), (8, 4), (32, 4))).

    The name may itself contain ':' (e.g. TensorFlow's 'input:0'), so split from the right.
    """
    parts = text.rsplit(':', 3)
    try:
        if len(parts) != 4 or not parts[0]:
            raise ValueError
        return parts[0], tuple(tuple(int(d) for d in shape.split('x')) for shape in parts[1:])
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected NAME:MIN:OPT:MAX with dims joined by x (e.g. x:1x4:8x4:32x4), '
                                         f'got {text!r}') from None


def _onnx_files(paths: list[Path], parser: argparse.ArgumentParser) -> list[Path]:
    files = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob('*.onnx'))
            if not found:
                parser.error(f'no *.onnx files in {path}')
            files += found
        elif path.is_file():
            files.append(path)
        else:
            parser.error(f'no such file or folder: {path} (run `make setup` to export the models)')
    return files


def _input_names(onnx_path: Path) -> set[str] | None:
    """Return the graph input names, or None when the onnx package is missing (then all shapes are passed)."""
    try:
        import onnx
        from google.protobuf.message import DecodeError
    except ImportError:
        return None
    try:
        graph = onnx.load(str(onnx_path), load_external_data=False).graph
    except (OSError, DecodeError):   # a broken file: let the TensorRT parser report it
        return None
    initializers = {init.name for init in graph.initializer}   # old exporters list weights as inputs too
    return {i.name for i in graph.input if i.name not in initializers}


def main(argv: list[str] | None = None) -> int:
    """Build or verify engines for the given ONNX files; return the exit code."""
    parser = argparse.ArgumentParser(prog='nvb-build-engines', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('paths', nargs='+', type=Path, help='ONNX files or folders of them')
    parser.add_argument('--precision', choices=PRECISIONS, default='fp32', help='engine precision (default fp32)')
    parser.add_argument('--engine-dir', type=Path, default=DEFAULT_ENGINE_DIR,
                        help=f'engine cache folder (default ./{DEFAULT_ENGINE_DIR})')
    parser.add_argument('--shapes', type=parse_shape_arg, action='append', default=[], metavar='NAME:MIN:OPT:MAX',
                        help='optimization profile of a dynamic input; repeat per input')
    parser.add_argument('--force', action='store_true', help='rebuild even if a valid engine is cached')
    args = parser.parse_args(argv)
    files = _onnx_files(args.paths, parser)
    shapes = dict(args.shapes)
    try:
        normalize_shapes(shapes)
    except ConfigError as error:
        parser.error(str(error))

    # Imported here, not at the top: this module must import (and --help work) on machines without TensorRT.
    from nvb_perception.backends.tensorrt_backend import build_engine_bytes, device_key, tensorrt_available
    available, reason = tensorrt_available()
    if not available:
        print(f'nvb-build-engines: TensorRT is not usable on this machine: {reason}. '
              'Run this on the target GPU device.', file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format='%(message)s')

    names = {onnx_path: _input_names(onnx_path) for onnx_path in files}
    unused = sorted(set(shapes) - set().union(*(n if n is not None else set(shapes) for n in names.values())))
    if unused:   # warn before the builds: a typo would otherwise surface minutes later
        print(f'nvb-build-engines: warning: --shapes for {unused} match no model input', file=sys.stderr)
    failed = []
    for onnx_path in files:
        model_shapes = {n: s for n, s in shapes.items() if names[onnx_path] is None or n in names[onnx_path]}
        try:
            key = device_key(onnx_path, args.precision, model_shapes)
            load_or_build_engine(onnx_path, args.engine_dir, key, build_engine_bytes, force=args.force,
                                 allow_build=True)
        except PerceptionError as error:   # one bad model must not stop the others
            print(f'nvb-build-engines: {onnx_path}: {error}', file=sys.stderr)
            failed.append(onnx_path)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

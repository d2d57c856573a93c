# Copyright (c) mmagent contributors. All rights reserved.
"""Export a trained model to ONNX or a ``torch.export`` program.

    python tools/deployment/export.py CONFIG CHECKPOINT \\
        --format onnx|torch-export --shape H W [--dynamic] [--out FILE]

Classifiers export their logits, segmentors the per-pixel logits at the
input size, detectors everything before non-maximum suppression (feature
maps and dense-head outputs; mmdet's post-processing runs in Python, see
``demo/onnx_demo.py``), ``--backbone-only`` the backbone's feature maps.
``--dynamic``: height and width are free, so one file serves several input
sizes. Unless ``--no-verify``, the ONNX file is checked against PyTorch on
the example input (and, with ``--dynamic``, on a second, larger size): above
``--tolerance`` the exit status is 1. See docs/user_guides/deploy.md.
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(
        description='Export a model to ONNX or torch.export',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint (mmagent or official)')
    parser.add_argument('--format', default='onnx',
                        help='onnx (default) or torch-export')
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224],
                        metavar=('H', 'W'),
                        help='example input height and width (the size of '
                        'a preprocessed image, padding included)')
    parser.add_argument('--dynamic', action='store_true',
                        help='height and width free in the exported model')
    parser.add_argument('--out', help='output file (default: the config '
                        'name, .onnx or .pt2)')
    parser.add_argument('--backbone-only', action='store_true',
                        help="export model.backbone's multi-scale features")
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime vs PyTorch check')
    parser.add_argument('--tolerance', type=float, default=1e-4,
                        help='the largest relative error onnxruntime may '
                        'show against PyTorch (default: %(default)s); above '
                        'it the exit status is 1 (the file is kept)')
    parser.add_argument('--benchmark', type=int, default=0, metavar='N',
                        help='then time N forwards of onnxruntime and of '
                        'PyTorch eager in turns on the example input')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle CHECKPOINT (it can run code): '
                        'only for files you trust')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmagent.apis.deploy import (FORMATS, ExportError, ExportGraph,
                                     build_model, export_model,
                                     time_against_eager, verification_sizes,
                                     verify_export)
    from mmagent.utils import CheckpointLoadError
    if args.format not in FORMATS:  # before the model is built
        sys.exit(f'error: unknown format {args.format!r}: expected one of '
                 f'{", ".join(FORMATS)}')
    try:
        model, task, _ = build_model(
            args.config, args.checkpoint, args.backbone_only,
            args.cfg_options, args.trust_checkpoint)
        graph = ExportGraph(model, task)  # exported, then the reference
        result = export_model(
            graph, args.shape, args.format, args.dynamic, args.out,
            task.name if task else 'backbone', args.config)
        errors = {}
        if args.format == 'onnx' and not args.no_verify:
            for size in verification_sizes(result['meta']):
                errors[size] = verify_export(graph, result['out'], size)
                print(f'onnxruntime vs PyTorch at {size[0]}x{size[1]}: '
                      f'largest relative error {errors[size]:.2e}')
        if args.format == 'onnx' and args.benchmark:
            times = time_against_eager(graph, result['out'], args.shape,
                                       args.benchmark)
            print(f'median of {args.benchmark} forwards at {args.shape[0]}x'
                  f'{args.shape[1]}: PyTorch eager {times["eager"] * 1e3:.1f}'
                  f' ms, onnxruntime {times["onnxruntime"] * 1e3:.1f} ms '
                  f'(onnxruntime {times["speedup"]:.2f}x)')
    except (ExportError, CheckpointLoadError, ValueError, ImportError) as e:
        sys.exit(f'error: {e}')  # onnx.checker's errors are ValueErrors
    except (OSError, KeyError, RuntimeError) as e:
        # an unwritable --out, a config key, torch.export.save
        sys.exit(f'error: {type(e).__name__}: {e}')
    meta = result['meta']
    sizes = (f'heights {meta["min_hw"][0]}.., widths {meta["min_hw"][1]}..'
             if meta['dynamic'] else 'only {}x{}'.format(*meta['export_hw']))
    if meta['size_multiple'] > 1:
        sizes += f' (multiples of {meta["size_multiple"]})'
    print(f'{result["out"]}: {meta["task"]}, {meta["num_outputs"]} '
          f'outputs, inputs (1, 3, H, W) with {sizes}')
    above = {size: e for size, e in errors.items() if not e <= args.tolerance}
    if above:
        sys.exit('error: onnxruntime differs from PyTorch by more than '
                 f'--tolerance {args.tolerance:g} at ' + ', '.join(
                     f'{h}x{w} ({e:.2e})' for (h, w), e in above.items()) +
                 f' (the file is kept: {result["out"]})')


if __name__ == '__main__':
    main()

# Copyright (c) mmagent contributors. All rights reserved.
"""Run an exported ONNX classifier, segmentor or detector on images with
onnxruntime.

    python demo/onnx_demo.py MODEL.onnx CONFIG INPUTS... [--weights CKPT]
        [--out-dir DIR]

MODEL.onnx comes from ``tools/deployment/export.py``; CONFIG is the config
it was exported from (its test pipeline, data preprocessor and the task
library's post-processing run in Python). The exported file computes the
backbone and neck (and heads up to NMS); they are removed from the PyTorch
model, so no mmagent model code runs. A two-stage detector's RoI heads run
after NMS in mmdet with the weights of ``--weights``.

Writes ``DIR/vis/<image>.png`` and ``DIR/preds/<image>.json``, as
``demo/image_demo.py`` (the same code writes them). The exported model sees
the padded batch: configs whose data preprocessor masks padding in PyTorch
(the FLatten det/seg ones) differ slightly on images that need padding.
"""
import argparse
import sys
import warnings


def parse_args():
    parser = argparse.ArgumentParser(
        description='Inference with an exported ONNX model',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('model', help='the exported .onnx file')
    parser.add_argument('config', help='the config it was exported from')
    parser.add_argument('inputs', nargs='+',
                        help='image files, folders or globs')
    parser.add_argument('--weights',
                        help="the exported checkpoint: needed by a two-stage "
                        "detector's RoI heads, which run after NMS")
    parser.add_argument('--out-dir', default='outputs_onnx',
                        help='where vis/ and preds/ are written')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: lowest score drawn')
    parser.add_argument('--palette', default=None,
                        help='as in demo/image_demo.py')
    parser.add_argument('--opacity', type=float, default=0.5,
                        help='segmentation overlay opacity')
    parser.add_argument('--trust-checkpoint', action='store_true',
                        help='fully unpickle --weights (it can run code): '
                        'only for files you trust')
    return parser.parse_args()


def main():
    args = parse_args()
    from mmagent.apis import init_inferencer, save_predictions
    from mmagent.apis.deploy import OnnxModel, use_exported_model
    from mmagent.utils import CheckpointLoadError
    from mmagent.utils.image_io import collect_images

    try:
        runner = OnnxModel(args.model)
        files = collect_images(args.inputs)
        with warnings.catch_warnings():
            # the weights the file does not hold are never run
            warnings.filterwarnings('ignore', 'No weights given')
            inferencer = init_inferencer(
                args.config, args.weights, device='cpu',
                palette=args.palette, trust_checkpoint=args.trust_checkpoint)
        task = inferencer.task
        if runner.task not in (None, task.name):
            raise ValueError(f'{args.model} is an exported {runner.task} '
                             f'model, {args.config} a {task.name} config')
        model = inferencer.model
        if getattr(model, 'with_rpn', False) and args.weights is None:
            raise ValueError(
                "a two-stage detector's RoI heads run in PyTorch after the "
                "exported part: pass --weights, the checkpoint that was "
                "exported")
        use_exported_model(model, runner, task)
    except (FileNotFoundError, CheckpointLoadError, ValueError,
            ImportError) as e:
        sys.exit(f'error: {e}')

    _, errors = save_predictions(inferencer, files, args.out_dir, 1,
                                 args.score_thr, args.opacity)
    for line in errors:
        print(f'error: {line}', file=sys.stderr)
    if errors:
        sys.exit(1)


if __name__ == '__main__':
    main()

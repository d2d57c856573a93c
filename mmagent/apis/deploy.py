# Copyright (c) mmagent contributors. All rights reserved.
"""Export a model to ONNX or a ``torch.export`` program, and run an exported
ONNX model in place of the PyTorch one.

What is exported (the task adapter's ``export_outputs``): a classifier's
logits, a segmentor's per-pixel logits at the input size, a detector's
feature maps and dense-head outputs (everything before non-maximum
suppression), or a bare backbone's multi-scale features. The rest of the
task library's ``predict`` (softmax, resize to the original image, NMS and
RoI heads) runs in Python on the exported model's outputs
(``predict_from_outputs``).

``onnx``, ``onnxruntime`` and ``onnxscript`` are the optional extra
``mmagent[deploy]``; this module imports them only when it needs them.
"""
import json
import os
import os.path as osp
import re
import traceback
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from ..models.layers.attention.common import adaptive_pool_matrix
from ..tasks import get_task
from ..utils.checkpoint import (extract_state_dict, load_checkpoint_file,
                                trust_checkpoints)
from ..utils.config import load_config
from .weights import load_fitting_state_dict, prepare_weights_and_meta

FORMATS = ('onnx', 'torch-export')
#: ONNX opset of the dynamo exporter's output.
OPSET = 18
OPTIMIZE = True
#: metadata key of the exported files (ONNX metadata_props, or the extra
#: file of a torch.export archive)
META_KEY = 'mmagent'
DEPLOY_EXTRA = ('the deploy extra is not installed: pip install '
                '"mmagent[deploy]" (onnx, onnxruntime, onnxscript)')


class ExportError(RuntimeError):
    """An input the export cannot take, or a failure inside the exporter
    (the message names the module and the operator)."""


class MatmulAdaptiveAvgPool2d(nn.Module):
    """:class:`nn.AdaptiveAvgPool2d` as two matmuls with the pooling
    windows as weights (:func:`adaptive_pool_matrix`): the same averages,
    also where the output size does not divide the input's (UperNet's
    pyramid pooling), in operations that export with the input size free.
    ``(B, C, H, W)`` -> ``(B, C, oh, ow)``."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = _pair(output_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        oh, ow = (size if out is None else out
                  for out, size in zip(self.output_size, (H, W)))
        rows = adaptive_pool_matrix(H, oh, x)  # (oh, H)
        cols = adaptive_pool_matrix(W, ow, x)  # (ow, W)
        return rows @ x @ cols.t()


def _pair(size):
    return tuple(size) if isinstance(size, (tuple, list)) else (size, size)


def make_exportable(model: nn.Module) -> nn.Module:
    """Swap, in place, the modules that have no exportable form for a free
    input size for their equivalents (:class:`MatmulAdaptiveAvgPool2d`)."""
    for name, module in list(model.named_modules()):
        if type(module) is nn.AdaptiveAvgPool2d:
            parent, _, attr = name.rpartition('.')
            setattr(model.get_submodule(parent), attr,
                    MatmulAdaptiveAvgPool2d(module.output_size))
    return model


class ExportGraph(nn.Module):
    """The graph that is exported: a preprocessed ``(B, 3, H, W)`` batch in,
    the task's tensors out (see :meth:`~mmagent.tasks.Task.export_outputs`);
    with ``task=None`` ``model`` is a backbone and its feature maps are the
    outputs. Modules without an exportable form are swapped for their
    equivalents (:func:`make_exportable`)."""

    def __init__(self, model: nn.Module, task=None):
        super().__init__()
        self.model = make_exportable(model)
        self.task = task

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.task is None:
            return tuple(self.model(inputs))
        return tuple(self.task.export_outputs(self.model, inputs))


def build_model(config: str, checkpoint: Optional[str] = None,
                backbone_only: bool = False, cfg_options: dict = None,
                trust_checkpoint: bool = False):
    """``(model, task, cfg)`` in eval mode with ``checkpoint`` loaded
    strictly (official checkpoints converted first); ``task`` is ``None``
    with ``backbone_only`` (``model`` is then ``cfg.model.backbone``)."""
    from mmengine.registry import MODELS
    cfg = load_config(config, cfg_options, init_scope=True)
    task = get_task(cfg)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        with trust_checkpoints(trust_checkpoint):
            path, _ = prepare_weights_and_meta(checkpoint, config)
            state_dict = extract_state_dict(load_checkpoint_file(path), path,
                                            prefix='')
        load_fitting_state_dict(model, state_dict, config)
    if backbone_only:
        model, task = model.backbone, None
    return model.eval(), task, cfg


def check_input_size(graph: nn.Module, shape: Sequence[int],
                     batch_size: int = 1) -> Tuple[torch.Tensor, ...]:
    """Run the model once at ``shape`` (the export's example input): an
    input size the architecture cannot take ends here, with its reason."""
    if len(shape) != 2 or min(shape) < 1:
        raise ExportError(f'--shape takes two positive sizes H W, got '
                          f'{list(shape)}')
    x = torch.randn(batch_size, 3, *shape)
    try:
        with torch.no_grad():
            return graph(x)
    except ExportError:
        raise
    except Exception as e:  # the model's own words, one line
        raise ExportError(f'the model failed on a {shape[0]}x{shape[1]} '
                          f'input: {type(e).__name__}: {e}') from None


def _explain(e: Exception, fmt: str) -> ExportError:
    """Which of our (or the task library's) modules, which operator."""
    text = f'{type(e).__name__}: {e}'
    ops = re.findall(r'\b(?:aten|torchvision|mmcv|mmagent|prims)::[\w.]+',
                     text)
    module = None
    for frame, line in traceback.walk_tb(e.__traceback__):
        owner = frame.f_locals.get('self')
        if isinstance(owner, nn.Module) and \
                '/torch/' not in frame.f_code.co_filename:
            module = (f'{type(owner).__name__} '
                      f'({osp.basename(frame.f_code.co_filename)}:{line})')
    where = f' in {module}' if module else ''
    op = f' at operator {ops[-1]}' if ops else ''
    first = text.strip().splitlines()[0][:500]
    return ExportError(f'export to {fmt} failed{where}{op}: {first}')


def _input_node(program):
    signature = program.graph_signature
    return next(n for n in program.graph.nodes if n.op == 'placeholder'
                and n.name in signature.user_inputs)


def _input_range(program) -> Dict[str, object]:
    """Bounds that ``torch.export`` proved for the input's height and
    width: ``{'min_hw': [h, w], 'max_hw': [h or None, w or None]}``."""
    lows, highs = [], []
    for size in _input_node(program).meta['val'].shape[2:]:
        if isinstance(size, int):
            lows.append(size)
            highs.append(size)
            continue
        # a symbol, or a multiple of one (sizes grow with their symbols)
        expr = size.node.expr
        ranges = {s: program.range_constraints[s] for s in expr.free_symbols}
        lows.append(int(expr.subs({s: r.lower for s, r in ranges.items()})))
        # sympy's oo or torch's int_oo
        unbounded = any('oo' in str(r.upper) for r in ranges.values())
        highs.append(None if unbounded else int(
            expr.subs({s: r.upper for s, r in ranges.items()})))
    return dict(min_hw=lows, max_hw=highs)


def export_model(graph: nn.Module, shape: Sequence[int], fmt: str = 'onnx',
                 dynamic: bool = False, out: Optional[str] = None,
                 task_name: str = 'backbone', config: str = '') -> dict:
    """Export ``graph`` (an :class:`ExportGraph`) for ``shape = (H, W)``
    inputs to ``out`` and return what was written (``out``, the
    metadata). ``dynamic``: height and width are free (down to what the
    architecture takes, which the metadata records), so one file serves
    several input sizes; the batch is one image.

    ``fmt='torch-export'`` saves the :func:`torch.export.export` program
    (``torch.export.load`` reads it); ``'onnx'`` converts that program with
    the dynamo ONNX exporter and checks the file with ``onnx.checker``.
    """
    if fmt not in FORMATS:
        raise ExportError(f'unknown format {fmt!r}: expected one of '
                          f'{", ".join(FORMATS)}')
    if fmt == 'onnx':
        require_deploy_extra()
    program = export_program(graph, shape, dynamic)
    meta = program_metadata(graph, program, shape, task_name, config)
    out = out or f'{osp.splitext(osp.basename(config))[0] or "model"}' + (
        '.onnx' if fmt == 'onnx' else '.pt2')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    if fmt == 'torch-export':
        torch.export.save(program, out,
                          extra_files={META_KEY: json.dumps(meta)})
    else:
        save_onnx(program, out, meta)
    return dict(out=out, meta=meta)


def program_metadata(graph: nn.Module, program, shape: Sequence[int],
                     task_name: str = 'backbone', config: str = '') -> dict:
    """What the exported files record about ``program`` (the export of
    ``graph`` on a ``shape`` example): task, outputs and the input sizes it
    takes, which :class:`OnnxModel` checks."""
    dynamic = not all(isinstance(s, int)
                      for s in _input_node(program).meta['val'].shape)
    return dict(task=task_name, config=osp.basename(config),
                dynamic=dynamic, export_hw=list(shape), batch_size=1,
                size_multiple=size_multiple(graph) if dynamic else 1,
                num_outputs=len(program.graph_signature.user_outputs),
                **_input_range(program))


def require_deploy_extra() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise ExportError(DEPLOY_EXTRA) from None


def export_program(graph: nn.Module, shape: Sequence[int],
                   dynamic: bool = False):
    """:func:`torch.export.export` of ``graph`` on a ``(1, 3, H, W)``
    example, height and width free with ``dynamic``; the size is tried in
    eager mode first (:func:`check_input_size`)."""
    check_input_size(graph, shape)
    dims = None
    multiple = size_multiple(graph)
    if dynamic:
        check_free_size(graph)
    if dynamic and multiple > 1:
        # from two multiples: torch.export takes a count of one for a
        # constant (it specialises sizes 0 and 1)
        if shape[0] % multiple or shape[1] % multiple or \
                min(shape) < 2 * multiple:
            raise ExportError(
                f'with --dynamic this backbone takes heights and widths '
                f'that are multiples of {multiple} from {2 * multiple} (its '
                f'stripes must tile every stage); got --shape {shape[0]} '
                f'{shape[1]}')
        Dim = torch.export.Dim
        dims = ({2: multiple * Dim('height_blocks', min=2),
                 3: multiple * Dim('width_blocks', min=2)},)
    elif dynamic:
        Dim = torch.export.Dim
        dims = ({2: Dim.DYNAMIC, 3: Dim.DYNAMIC},)
    try:
        return torch.export.export(graph, (torch.randn(1, 3, *shape), ),
                                   dynamic_shapes=dims)
    except Exception as e:
        raise _explain(e, 'torch.export') from e


def check_free_size(graph: nn.Module) -> None:
    """Refuse a free-size export of a model whose computation switches on
    the map size (the exported file would keep one side of the switch):
    Swin's classifiers do not shift a map that fits in one window
    (``pad_small_map=False``)."""
    for name, module in graph.named_modules():
        if getattr(module, 'pad_small_map', True) is False:
            raise ExportError(
                f'{name} ({type(module).__name__}) switches its window '
                f'shift on the map size (pad_small_map=False, the ImageNet '
                f'models): export it at a fixed --shape, without --dynamic')


def size_multiple(graph: nn.Module) -> int:
    """The input-size multiple a free-size export of ``graph`` takes: its
    backbone's ``export_size_multiple`` (1: any size)."""
    model = getattr(graph, 'model', graph)
    backbone = getattr(model, 'backbone', model)
    return int(getattr(backbone, 'export_size_multiple', 1))


def save_onnx(program, out: str, meta: Optional[dict] = None) -> None:
    """Convert a ``torch.export`` program with the dynamo ONNX exporter,
    record ``meta`` in the file and check it with ``onnx.checker``."""
    require_deploy_extra()
    import onnx
    try:
        onnx_program = torch.onnx.export(
            program, dynamo=True, opset_version=OPSET,
            input_names=['inputs'], verbose=False, optimize=OPTIMIZE)
    except Exception as e:
        raise _explain(e, 'onnx') from e
    model = onnx_program.model_proto
    if meta is not None:
        onnx.helper.set_model_props(model, {META_KEY: json.dumps(meta)})
    onnx.checker.check_model(model)
    onnx.save(model, out)


def exported_metadata(path: str) -> dict:
    """The metadata :func:`export_model` wrote into an ``.onnx`` or
    ``torch.export`` file (``{}`` for a file exported elsewhere)."""
    if path.endswith('.onnx'):
        import onnx
        model = onnx.load(path, load_external_data=False)
        props = {p.key: p.value for p in model.metadata_props}
    else:
        extra = {META_KEY: ''}
        torch.export.load(path, extra_files=extra)
        props = extra
    return json.loads(props.get(META_KEY) or '{}')


class OnnxModel:
    """An exported ONNX model on onnxruntime, called like the
    :class:`ExportGraph` it came from: a ``(B, 3, H, W)`` tensor in, a
    tuple of tensors out. A batch larger than the export's runs image by
    image; an input size the file does not take raises ``ValueError``
    naming the limit."""

    def __init__(self, path: str, providers: Optional[Sequence[str]] = None):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: no such ONNX file')
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(DEPLOY_EXTRA) from None
        try:
            self.session = ort.InferenceSession(
                path, providers=list(providers or ['CPUExecutionProvider']))
        except Exception as e:  # onnxruntime's own exception types
            raise ValueError(f'{path} is not a readable ONNX model: '
                             f'{str(e).strip().splitlines()[0]}') from None
        self.path = path
        custom = self.session.get_modelmeta().custom_metadata_map
        self.meta = json.loads(custom.get(META_KEY, '{}'))
        self.input_name = self.session.get_inputs()[0].name

    @property
    def task(self) -> Optional[str]:
        """``'det'``, ``'seg'``, ``'cls'`` or ``'backbone'`` (None for a
        file that :func:`export_model` did not write)."""
        return self.meta.get('task')

    def check_size(self, hw: Sequence[int]) -> None:
        meta, hw = self.meta, tuple(int(s) for s in hw)
        if not meta:
            return
        if not meta['dynamic'] and hw != tuple(meta['export_hw']):
            raise ValueError(
                f'{self.path} was exported for {meta["export_hw"][0]}x'
                f'{meta["export_hw"][1]} inputs only (without --dynamic); '
                f'got {hw[0]}x{hw[1]}')
        multiple = meta.get('size_multiple', 1)
        if hw[0] % multiple or hw[1] % multiple:
            raise ValueError(f'{self.path} takes heights and widths that are '
                             f'multiples of {multiple}; got {hw[0]}x{hw[1]}')
        low = meta.get('min_hw') or [1, 1]
        high = meta.get('max_hw') or [None, None]
        for name, size, lo, hi in zip(('height', 'width'), hw, low, high):
            if size < lo or (hi is not None and size > hi):
                raise ValueError(
                    f'{self.path} takes an input {name} from {lo} to '
                    f'{hi or "any size"}; got {size}')

    def __call__(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        self.check_size(inputs.shape[2:])
        batch = self.meta.get('batch_size', inputs.shape[0])
        array = inputs.detach().float().cpu().numpy()
        runs = [self.session.run(None, {self.input_name: array[i:i + batch]})
                for i in range(0, len(array), batch)]
        return tuple(torch.cat([torch.from_numpy(run[j]) for run in runs])
                     .to(inputs.device) for j in range(len(runs[0])))


def relative_error(outputs: Sequence[torch.Tensor],
                   references: Sequence[torch.Tensor]) -> float:
    """Largest ``max|a - b| / max|b|`` over paired tensors of equal shapes
    (no broadcasting: a shape mismatch raises)."""
    if len(outputs) != len(references) or not references:
        raise ValueError(f'{len(outputs)} outputs, {len(references)} '
                         f'expected')
    errors = []
    for i, (a, b) in enumerate(zip(outputs, references)):
        if a.shape != b.shape:
            raise ValueError(f'output {i} has shape {tuple(a.shape)}, '
                             f'expected {tuple(b.shape)}')
        errors.append(float((a.float() - b.float()).abs().max() /
                            b.float().abs().max().clamp_min(1e-12)))
    return max(errors)


def verification_sizes(meta: dict) -> List[Tuple[int, int]]:
    """The input sizes an export is checked at: its example, and for a
    free-size export a second size (a step or two of its size multiple, at
    least 32 pixels, larger), so a size fixed by mistake shows."""
    sizes = [tuple(meta['export_hw'])]
    if meta.get('dynamic'):
        step = max(int(meta.get('size_multiple', 1)), 32)
        second = (sizes[0][0] + step, sizes[0][1] + 2 * step)
        high = meta.get('max_hw') or [None, None]
        if all(h is None or s <= h for s, h in zip(second, high)):
            sizes.append(second)
    return sizes


def verify_export(graph: nn.Module, path: str, shape: Sequence[int],
                  seed: int = 0) -> float:
    """Largest relative error of the ONNX file at ``path`` (onnxruntime)
    against ``graph`` in PyTorch on one random ``shape`` input."""
    x = torch.randn(1, 3, *shape,
                    generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        reference = graph(x)
    return relative_error(OnnxModel(path)(x), reference)


def time_against_eager(graph: nn.Module, path: str, shape: Sequence[int],
                       iterations: int = 10, warmup: int = 2) -> dict:
    """Median seconds per ``(1, 3, H, W)`` forward of ``graph`` in PyTorch
    eager (no grad) and of the ONNX file on onnxruntime, measured in turns
    on the same input: ``{'eager': s, 'onnxruntime': s, 'speedup': r}``."""
    import statistics
    import time
    x = torch.randn(1, 3, *shape)
    runner = OnnxModel(path)
    times = {'eager': [], 'onnxruntime': []}
    with torch.no_grad():
        for i in range(warmup + iterations):
            for name, fn in (('eager', graph), ('onnxruntime', runner)):
                start = time.perf_counter()
                fn(x)
                if i >= warmup:
                    times[name].append(time.perf_counter() - start)
    result = {k: statistics.median(v) for k, v in times.items()}
    result['speedup'] = result['eager'] / result['onnxruntime']
    return result


class _ReplacedByExport(nn.Module):
    """Stands where the exported part of a model was: running it is a bug."""

    def forward(self, *args, **kwargs):
        raise RuntimeError('this part of the model runs in the exported '
                           'file, not in PyTorch')


def use_exported_model(model: nn.Module, runner, task) -> nn.Module:
    """Make ``model.predict`` run ``runner`` (an :class:`OnnxModel` or the
    module of a ``torch.export`` program) and the task library's
    post-processing on its outputs; the parts the exported file computes
    (backbone, neck) are removed from ``model``, so they cannot run."""
    for name in ('backbone', 'neck'):
        if isinstance(getattr(model, name, None), nn.Module):
            setattr(model, name, _ReplacedByExport())

    def predict(inputs, data_samples=None, **kwargs):
        with torch.no_grad():
            outputs = runner(inputs)
        return task.predict_from_outputs(model, outputs, data_samples)

    model.predict = predict
    return model


__all__ = [
    'FORMATS', 'ExportError', 'ExportGraph', 'MatmulAdaptiveAvgPool2d',
    'OnnxModel', 'build_model', 'make_exportable',
    'check_free_size', 'check_input_size', 'export_model', 'export_program',
    'exported_metadata', 'program_metadata', 'save_onnx', 'size_multiple',
    'relative_error', 'time_against_eager', 'use_exported_model',
    'verification_sizes', 'verify_export'
]

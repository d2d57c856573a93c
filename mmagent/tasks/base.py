# Copyright (c) mmagent contributors. All rights reserved.
"""The task adapter: everything the tools, the inference API and the demo
need to know about one task (detection, segmentation, classification).

A config's ``default_scope`` (``mmdet``, ``mmseg``, ``mmpretrain``) selects
its task with :func:`get_task`; a new task is one file defining a
:class:`Task` subclass decorated with :func:`register_task`.
"""
import copy
import difflib
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..utils.checkpoint import CheckpointLoadError, inspect_checkpoint
from ..utils.config import default_scope
from ..utils.data_check import check_data_root, check_referenced_files

TASKS: Dict[str, 'Task'] = {}


def register_task(cls):
    """Class decorator: make ``cls()`` the task of configs whose
    ``default_scope`` is ``cls.scope``."""
    TASKS[cls.scope] = cls()
    return cls


def get_task(cfg_or_scope) -> 'Task':
    """The task of a config (its ``default_scope``, mmdet when unset, as
    mmengine's Runner assumes nothing and our configs all set one) or of a
    scope name."""
    scope = cfg_or_scope if isinstance(cfg_or_scope, str) else \
        default_scope(cfg_or_scope)
    if scope not in TASKS:
        raise ValueError(f'unsupported default_scope {scope!r}: expected one '
                         f'of {sorted(TASKS)}')
    return TASKS[scope]


class Task:
    """Base of the task adapters; subclasses fill in the class attributes
    and the methods their tools need."""

    #: default_scope of the task's configs, e.g. ``'mmdet'``.
    scope: str = ''
    #: Short name: ``'det'``, ``'seg'``, ``'cls'``.
    name: str = ''
    #: Names the dataset in the missing-data message.
    dataset_hint: str = 'The dataset'
    #: Whether an official ImageNet checkpoint is a whole model of this
    #: task (a classifier), not only a backbone to fine-tune first.
    imagenet_checkpoint_is_model: bool = False

    def __repr__(self) -> str:
        return f'{type(self).__name__}(scope={self.scope!r})'

    # ---------------------------------------------------------- data
    def check_data(self, cfg, loaders: Sequence[str],
                   scan_limit: Optional[int] = 200) -> None:
        """Stop with one message when the configured data is missing:
        its folders and annotation files, then the files that a sample of
        ``scan_limit`` records per dataset (all with ``None``) reference."""
        from mmengine.registry import DefaultScope
        check_data_root(cfg, loaders, self.dataset_hint)
        with DefaultScope.overwrite_default_scope(self.scope):
            check_referenced_files(cfg, loaders, scan_limit)

    def data_sample(self, height: int, width: int):
        """An empty data sample with the image meta that ``predict`` and
        ``tensor`` modes read, for inputs made up by the tools."""
        meta = dict(img_shape=(height, width), ori_shape=(height, width),
                    pad_shape=(height, width),
                    batch_input_shape=(height, width), scale_factor=(1., 1.),
                    img_id=0, img_path='synthetic.png')
        return self.data_sample_type()(metainfo=meta)

    def data_sample_type(self):
        raise NotImplementedError

    def synthetic_training_record(self, root: str, height: int, width: int,
                                  index: int) -> dict:
        """A training record as the task's dataset gives it to the train
        pipeline (``img_path`` and the annotations in the dataset's own
        format), for a synthetic ``height x width`` image written under
        ``root``; the benchmark runs the config's real pipeline on it."""
        raise NotImplementedError

    @staticmethod
    def _write_noise_image(root: str, name: str, height: int,
                           width: int, seed: int) -> str:
        from PIL import Image
        rng = np.random.default_rng(seed)
        path = osp.join(root, f'{name}.png')
        Image.fromarray(rng.integers(0, 256, (height, width, 3),
                                     dtype=np.uint8)).save(path)
        return path

    def complexity_shape(self, cfg) -> Tuple[int, int]:
        """``(H, W)`` at which ``get_flops.py`` counts by default: the
        papers' 1280x800 for dense prediction."""
        return 1280, 800

    def models_registry(self):
        """The task library's ``MODELS`` registry."""
        raise NotImplementedError

    def check_model(self, cfg, pretrained: bool = True) -> None:
        """Stop with one message, before anything is built, when
        ``model.backbone`` names an unregistered type (with the closest
        registered names), an mmagent backbone gets a bad argument, or
        (``pretrained``: training starts from it) its ``init_cfg``
        checkpoint is missing, incomplete or refused."""
        from mmengine.registry import DefaultScope

        from ..models.backbones import AttentionBackbone
        backbone = cfg.get('model', {}).get('backbone')
        if not isinstance(backbone, dict) or \
                not isinstance(backbone.get('type'), str):
            return
        registry = self.models_registry()
        with DefaultScope.overwrite_default_scope(self.scope):
            cls = registry.get(backbone['type'])
        if cls is None:
            names, node = set(), registry
            while node is not None:
                names |= set(node.module_dict)
                node = node.parent
            close = difflib.get_close_matches(backbone['type'], names, n=3)
            hint = f'; did you mean {", ".join(close)}?' if close else ''
            raise SystemExit(
                f'error: model.backbone.type={backbone["type"]!r} is not a '
                f'registered model{hint} (mmagent backbones need '
                f"custom_imports=dict(imports=['mmagent']) in the config)")
        init_cfg = backbone.get('init_cfg')
        if pretrained and isinstance(init_cfg, dict) and init_cfg.get(
                'type') == 'Pretrained' and '://' not in str(
                    init_cfg.get('checkpoint')):
            try:
                inspect_checkpoint(init_cfg.get('checkpoint'),
                                   trusted=init_cfg.get('trusted'))
            except CheckpointLoadError as e:
                raise SystemExit(
                    f'error: model.backbone.init_cfg: {e}\nThe ImageNet '
                    f'weights go to data/pretrained/ (README, "Data"); the '
                    f"detection demo's backbone comes from the segmentation "
                    f'demo (python demo/run_demo.py). To start from random '
                    f'weights: --cfg-options model.backbone.init_cfg=None'
                ) from None
        if isinstance(cls, type) and issubclass(cls, AttentionBackbone):
            kwargs = copy.deepcopy(dict(backbone))
            kwargs.pop('type')
            kwargs.pop('init_cfg', None)  # loaded later, by the runner
            try:
                cls(**kwargs)
            except (ValueError, TypeError, NotImplementedError,
                    KeyError) as e:
                raise SystemExit(f'error: model.backbone ({cls.__name__}): '
                                 f'{e}') from None

    def check_sample(self, sample: dict, dataset) -> Optional[str]:
        """What is wrong with a training sample after the pipeline (``None``
        when nothing), for :class:`~mmagent.datasets.BadSampleGuard`."""
        return None

    def registries(self) -> Tuple:
        """``(DATASETS, VISUALIZERS)`` of the task's library."""
        raise NotImplementedError

    def draw_sample(self, visualizer, name: str, image: np.ndarray, sample,
                    show: bool, wait_time: float, out_file: str) -> None:
        """Draw a training sample (RGB image) with its annotations."""
        visualizer.add_datasample(
            name, image, data_sample=sample, draw_pred=False, show=show,
            wait_time=wait_time, out_file=out_file)

    # ---------------------------------------------------------- testing
    def add_prediction_dump(self, cfg, out: str) -> None:
        """``tools/test.py --out``: keep the predictions in ``out`` (a
        pickle, through mmengine's ``DumpResults`` metric)."""
        cfg.test_evaluator = _as_list(cfg.test_evaluator) + [
            dict(type='DumpResults', out_file_path=out)]

    def enable_visualization(self, cfg, show: bool, show_dir: str,
                             wait_time: float) -> None:
        """``--show`` / ``--show-dir`` through the visualization hook."""
        hook = cfg.default_hooks.get('visualization')
        if hook is None:
            raise SystemExit('--show/--show-dir need a visualization hook in '
                             'default_hooks')
        hook['draw'] = True
        if show:
            hook['show'] = True
            hook['wait_time'] = wait_time
        if show_dir:
            hook['test_out_dir'] = show_dir

    def apply_tta(self, cfg) -> None:
        """``--tta``: test through the config's ``tta_model`` and
        ``tta_pipeline``."""
        for key in ('tta_model', 'tta_pipeline'):
            if key not in cfg:
                raise SystemExit(f'--tta: this config defines no {key}')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    # ---------------------------------------------------------- inference
    def build_inferencer(self, cfg, weights, device, palette,
                         show_progress: bool):
        """The task library's inferencer for a config."""
        raise NotImplementedError

    def set_dataset_meta(self, inferencer, meta: dict, palette) -> None:
        """Use the config's class names (and palette, unless one was asked
        for) when the checkpoint has none."""
        model_meta = dict(inferencer.model.dataset_meta or {})
        model_meta['classes'] = meta['classes']
        if palette in (None, 'none') and 'palette' in meta:
            model_meta['palette'] = meta['palette']
        inferencer.model.dataset_meta = model_meta
        inferencer.visualizer.dataset_meta = model_meta

    def predict(self, inferencer, images: List[np.ndarray],
                score_thr: float, opacity: float) -> List[Tuple]:
        """``[(prediction, RGB picture), ...]`` for a batch of BGR images."""
        raise NotImplementedError

    def prediction_record(self, inferencer, prediction, path: str,
                          out_stem: str, score_thr: float) -> dict:
        """A JSON-ready record of one prediction; files it needs beside the
        record start with ``out_stem``."""
        raise NotImplementedError

    def class_names(self, inferencer) -> Sequence[str]:
        return inferencer.model.dataset_meta['classes']

    # ---------------------------------------------------------- deployment
    def export_outputs(self, model, inputs) -> Tuple:
        """What an exported model computes from a preprocessed ``(B, 3, H,
        W)`` batch: the tensors of ``model`` up to its first step whose
        output size depends on the data (non-maximum suppression)."""
        raise NotImplementedError

    def predict_from_outputs(self, model, outputs: Sequence, data_samples):
        """The task library's own post-processing of
        :meth:`export_outputs` (as tensors, e.g. from onnxruntime): the
        data samples that ``model.predict`` returns."""
        raise NotImplementedError


def _as_list(evaluator):
    return list(evaluator) if isinstance(evaluator, (list, tuple)) else \
        [evaluator]

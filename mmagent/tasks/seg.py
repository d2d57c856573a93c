# Copyright (c) mmagent contributors. All rights reserved.
"""Semantic segmentation on mmseg 1.x."""
import os.path as osp

import numpy as np
import torch.nn.functional as F

from .base import Task, register_task


@register_task
class SegmentationTask(Task):
    scope = 'mmseg'
    name = 'seg'
    dataset_hint = 'ADE20K'

    def data_sample_type(self):
        from mmseg.structures import SegDataSample
        return SegDataSample

    def models_registry(self):
        from mmseg.registry import MODELS
        return MODELS

    def synthetic_training_record(self, root, height, width, index):
        """An ADE20K-style record: a label PNG of horizontal bands of
        labels 1-4 (0 is ignored after ``reduce_zero_label``)."""
        from PIL import Image
        labels = (np.arange(height)[:, None] * 4 // height + 1).repeat(
            width, 1).astype(np.uint8)
        seg_path = osp.join(root, f'seg_{index}_labels.png')
        Image.fromarray(labels).save(seg_path)
        path = self._write_noise_image(root, f'seg_{index}', height, width,
                                       index)
        return dict(img_path=path, seg_map_path=seg_path, label_map=None,
                    reduce_zero_label=True, seg_fields=[])

    def check_sample(self, sample, dataset):
        labels = sample['data_samples'].gt_sem_seg.data
        num_classes = len(dataset.metainfo['classes'])
        ignore = getattr(dataset, 'ignore_index', 255)
        bad = (labels >= num_classes) & (labels != ignore) | (labels < 0)
        if bad.any():
            values = sorted(set(labels[bad].flatten().tolist()))
            return (f'label map values {values[:5]} are outside the '
                    f'{num_classes} classes (0..{num_classes - 1}, '
                    f'{ignore} = ignored)')
        return None

    def registries(self):
        from mmseg.registry import DATASETS, VISUALIZERS
        return DATASETS, VISUALIZERS

    def add_prediction_dump(self, cfg, out):
        # mmseg's IoUMetric writes the label maps as PNGs into a folder.
        cfg.test_evaluator['output_dir'] = out
        cfg.test_evaluator['keep_results'] = True

    def build_inferencer(self, cfg, weights, device, palette, show_progress):
        from mmseg.apis import MMSegInferencer

        # mmseg takes a dataset name ('ade20k', 'cityscapes', ...)
        inferencer = MMSegInferencer(
            model=cfg, weights=weights, device=device,
            dataset_name=None if palette in (None, 'none') else palette)
        inferencer.show_progress = show_progress
        return inferencer

    def set_dataset_meta(self, inferencer, meta, palette):
        super().set_dataset_meta(inferencer, meta, palette)
        model_meta = inferencer.model.dataset_meta
        inferencer.visualizer.set_dataset_meta(model_meta['classes'],
                                               model_meta.get('palette'))

    def export_outputs(self, model, inputs):
        if model.test_cfg.get('mode', 'whole') != 'whole':
            raise ValueError(
                f"export runs whole-image inference; this config's "
                f"model.test_cfg.mode is {model.test_cfg['mode']!r}")
        # the decode head's logits resized to the input, as its
        # predict_by_feat does before mmseg's post-processing
        logits = model(inputs, mode='tensor')
        return (F.interpolate(logits, size=inputs.shape[2:], mode='bilinear',
                              align_corners=model.align_corners),)

    def predict_from_outputs(self, model, outputs, data_samples):
        return model.postprocess_result(outputs[0], data_samples)

    def predict(self, inferencer, images, score_thr, opacity):
        # mmseg returns label maps (no pictures with datasamples) and
        # unwraps a batch of one.
        out = inferencer(images, batch_size=len(images), return_vis=True,
                         opacity=opacity)
        preds, visuals = out['predictions'], out['visualization']
        if len(images) == 1:
            preds, visuals = [preds], [visuals]
        return list(zip(preds, visuals))

    def prediction_record(self, inferencer, prediction, path, out_stem,
                          score_thr):
        import cv2
        label = np.asarray(prediction).astype(np.uint8)
        label_file = out_stem + '.png'
        cv2.imwrite(label_file, label)
        classes = self.class_names(inferencer)
        ids, counts = np.unique(label, return_counts=True)
        return dict(
            img_path=path,
            sem_seg_path=osp.abspath(label_file),
            height=int(label.shape[0]),
            width=int(label.shape[1]),
            class_fractions={
                classes[i]: round(float(c) / label.size, 6)
                for i, c in zip(ids.tolist(), counts.tolist())
                if i < len(classes)
            })

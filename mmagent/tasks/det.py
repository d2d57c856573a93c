# Copyright (c) mmagent contributors. All rights reserved.
"""Object detection and instance segmentation on mmdet 3.x."""
import json
import math
import os.path as osp

import numpy as np

from ..utils.data_check import leaf_datasets
from .base import Task, _as_list, register_task


def degenerate_annotations(ann_file: str) -> list:
    """``(image file, annotation id, what)`` of every COCO annotation that
    mmdet's ``CocoDataset`` drops or ignores without a word: a box with a
    non-finite coordinate or under one pixel wide or high, a polygon with
    fewer than 3 points."""
    with open(ann_file) as f:
        coco = json.load(f)
    if not isinstance(coco, dict) or 'annotations' not in coco:
        return []
    files = {img.get('id'): img.get('file_name') for img in
             coco.get('images', [])}
    found = []
    for ann in coco['annotations']:
        box = ann.get('bbox') or []
        problem = None
        if len(box) != 4 or not all(
                isinstance(v, (int, float)) and math.isfinite(v)
                for v in box):
            problem = f'bbox {box}'
        elif box[2] < 1 or box[3] < 1:
            problem = f'bbox {box} is under one pixel wide or high'
        else:
            polygons = ann.get('segmentation')
            if isinstance(polygons, list) and any(
                    len(p) < 6 or len(p) % 2 for p in polygons):
                problem = 'a polygon has fewer than 3 points'
        if problem:
            found.append((files.get(ann.get('image_id')), ann.get('id'),
                          problem))
    return found


@register_task
class DetectionTask(Task):
    scope = 'mmdet'
    name = 'det'
    dataset_hint = 'COCO (see README, "COCO detection / Data")'

    def check_data(self, cfg, loaders, scan_limit=200):
        """Also name the COCO annotations mmdet would drop silently (a
        warning: training goes on without them)."""
        super().check_data(cfg, loaders, scan_limit)
        for loader in loaders:
            loader_cfg = cfg.get(loader) or {}
            for dataset in leaf_datasets(loader_cfg.get('dataset')):
                ann_file = osp.join(dataset.get('data_root') or '',
                                    dataset.get('ann_file') or '')
                if not ann_file.endswith('.json') or not osp.isfile(ann_file):
                    continue
                found = degenerate_annotations(ann_file)
                if found:
                    lines = '\n  '.join(
                        f'{image}, annotation id {ann_id}: {problem}'
                        for image, ann_id, problem in found[:10])
                    print(f'warning: {ann_file}: mmdet ignores {len(found)} '
                          f'degenerate annotations:\n  {lines}')

    def data_sample_type(self):
        from mmdet.structures import DetDataSample
        return DetDataSample

    def models_registry(self):
        from mmdet.registry import MODELS
        return MODELS

    def synthetic_training_record(self, root, height, width, index):
        """``CocoDataset``'s record: eight boxes with polygon masks (a
        diamond in each box) of classes 0 and 1."""
        rng = np.random.default_rng(index)
        instances = []
        for i in range(8):
            w, h = rng.uniform(0.1, 0.4) * width, rng.uniform(0.1, 0.4) * height
            x1, y1 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            cx, cy = x1 + w / 2, y1 + h / 2
            instances.append(dict(
                bbox=[x1, y1, x1 + w, y1 + h], bbox_label=i % 2,
                ignore_flag=0,
                mask=[[cx, y1, x1 + w, cy, cx, y1 + h, x1, cy]]))
        path = self._write_noise_image(root, f'det_{index}', height, width,
                                       index)
        return dict(img_path=path, img_id=index, height=height, width=width,
                    instances=instances)

    def check_sample(self, sample, dataset):
        instances = sample['data_samples'].gt_instances
        boxes = instances.get('bboxes')
        if boxes is None or len(boxes) == 0:
            return None
        boxes = getattr(boxes, 'tensor', boxes)
        if not boxes.isfinite().all():
            return 'a box has a non-finite coordinate'
        empty = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
        if empty.any():
            return (f'box {boxes[empty][0].tolist()} has no area '
                    f'(x2 <= x1 or y2 <= y1)')
        return None

    def registries(self):
        from mmdet.registry import DATASETS, VISUALIZERS
        return DATASETS, VISUALIZERS

    def draw_sample(self, visualizer, name, image, sample, show, wait_time,
                    out_file):
        # The visualizer draws tensors and boolean arrays, not the box and
        # mask structures the pipeline produces.
        from mmdet.structures.bbox import BaseBoxes
        from mmdet.structures.mask import BitmapMasks, PolygonMasks
        instances = sample.gt_instances
        if isinstance(instances.get('bboxes'), BaseBoxes):
            instances.bboxes = instances.bboxes.tensor
        masks = instances.get('masks')
        if isinstance(masks, (BitmapMasks, PolygonMasks)):
            instances.masks = masks.to_ndarray().astype(bool)
        super().draw_sample(visualizer, name, image, sample, show, wait_time,
                            out_file)

    def add_prediction_dump(self, cfg, out):
        if not out.endswith(('.pkl', '.pickle')):
            raise SystemExit('--out must be a .pkl or .pickle file')
        cfg.test_evaluator = _as_list(cfg.test_evaluator) + [
            dict(type='DumpDetResults', out_file_path=out)]

    def apply_tta(self, cfg):
        # mmdet's default when the config has none: horizontal flip,
        # merged by NMS.
        if 'tta_model' not in cfg:
            cfg.tta_model = dict(
                type='DetTTAModel',
                tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5),
                             max_per_img=100))
        if 'tta_pipeline' not in cfg:
            test_pipeline = cfg.test_dataloader.dataset.pipeline
            load, *middle, pack = test_pipeline
            middle = [t for t in middle if t['type'] != 'Resize']
            resize = next(t for t in test_pipeline if t['type'] == 'Resize')
            cfg.tta_pipeline = [
                load,
                dict(type='TestTimeAug', transforms=[
                    [resize],
                    [dict(type='RandomFlip', prob=1.),
                     dict(type='RandomFlip', prob=0.)],
                    middle + [dict(pack, meta_keys=(
                        'img_id', 'img_path', 'ori_shape', 'img_shape',
                        'scale_factor', 'flip', 'flip_direction'))],
                ])
            ]
        super().apply_tta(cfg)

    def build_inferencer(self, cfg, weights, device, palette, show_progress):
        from mmdet.apis import DetInferencer
        return DetInferencer(
            model=cfg, weights=weights, device=device,
            palette=palette or 'none', show_progress=show_progress)

    def predict(self, inferencer, images, score_thr, opacity):
        out = inferencer(images, batch_size=len(images), return_vis=True,
                         pred_score_thr=score_thr, return_datasamples=True)
        return list(zip(out['predictions'], out['visualization']))

    @staticmethod
    def _dense_head(model):
        return model.rpn_head if getattr(model, 'with_rpn', False) else \
            model.bbox_head

    def export_outputs(self, model, inputs):
        """The neck's feature maps, then each output of the dense head
        (the RPN's, or a one-stage detector's box head) level by level."""
        feats = model.extract_feat(inputs)
        head_outputs = self._dense_head(model)(feats)
        return tuple(feats) + tuple(t for level_outputs in head_outputs
                                    for t in level_outputs)

    def predict_from_outputs(self, model, outputs, data_samples):
        head = self._dense_head(model)
        levels = head.prior_generator.num_levels
        feats, rest = tuple(outputs[:levels]), outputs[levels:]
        head_outputs = [list(rest[i:i + levels])
                        for i in range(0, len(rest), levels)]
        metas = [sample.metainfo for sample in data_samples]
        # mmdet's predict from here on: NMS, then the RoI heads (two-stage)
        if getattr(model, 'with_rpn', False):
            proposals = head.predict_by_feat(
                *head_outputs, batch_img_metas=metas, rescale=False)
            results = model.roi_head.predict(feats, proposals, data_samples,
                                             rescale=True)
        else:
            results = head.predict_by_feat(
                *head_outputs, batch_img_metas=metas, rescale=True)
        return model.add_pred_to_datasample(data_samples, results)

    def prediction_record(self, inferencer, prediction, path, out_stem,
                          score_thr):
        record = inferencer.pred2dict(prediction)
        classes = self.class_names(inferencer)
        record['label_names'] = [classes[i] for i in record['labels']]
        record.update(img_path=path, score_thr=score_thr)
        return record

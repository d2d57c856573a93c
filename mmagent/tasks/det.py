# Copyright (c) mmagent contributors. All rights reserved.
"""Object detection and instance segmentation on mmdet 3.x."""
from .base import Task, _as_list, register_task


@register_task
class DetectionTask(Task):
    scope = 'mmdet'
    name = 'det'
    dataset_hint = 'COCO (see README, "COCO detection / Data")'

    def data_sample_type(self):
        from mmdet.structures import DetDataSample
        return DetDataSample

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

    def prediction_record(self, inferencer, prediction, path, out_stem,
                          score_thr):
        record = inferencer.pred2dict(prediction)
        classes = self.class_names(inferencer)
        record['label_names'] = [classes[i] for i in record['labels']]
        record.update(img_path=path, score_thr=score_thr)
        return record

# Copyright (c) mmagent contributors. All rights reserved.
"""Image classification on mmpretrain 1.x."""
import re
from collections import OrderedDict
from typing import Mapping

from ..models.backbones import OFFICIAL_LAYOUTS
from ..models.backbones.base import final_norm_to_output_norm
from ..utils.checkpoint import extract_state_dict
from .base import Task, register_task

TOPK = 5
MIN_PICTURE_SIDE = 256  # px, short edge of a drawn prediction


def official_layout_of(state_dict):
    """The family layout (:data:`~mmagent.models.backbones.OFFICIAL_LAYOUTS`)
    of an official ImageNet state dict; ``None`` when none matches."""
    return next((layout for layout in OFFICIAL_LAYOUTS
                 if layout.matches(state_dict)), None)


def imagenet_to_classifier(state_dict):
    """Official classifier names -> mmpretrain ``ImageClassifier``: the
    linear ``head.*`` becomes ``head.fc.*``, every other weight goes under
    ``backbone.``; what the family's official layout says the backbone does
    not use is dropped (Swin's shift-mask buffers, PVT v1's final norm) and
    the final ``norm`` of a multi-stage model becomes the last stage's
    output norm. Returns the new state dict and the renames (``(key,
    None)`` for a dropped weight)."""
    layout = official_layout_of(state_dict)
    unused = layout.unused if layout else ()
    kept = OrderedDict((k, v) for k, v in state_dict.items()
                       if not any(re.match(p, k) for p in unused))
    dropped = [k for k in state_dict if k not in kept]
    old_keys = list(kept)
    last_stage = layout.last_stage(state_dict) if layout else None
    if last_stage is not None:
        kept = final_norm_to_output_norm(kept, last_stage)
    converted, renamed = OrderedDict(), [(k, None) for k in dropped]
    for old, (key, value) in zip(old_keys, kept.items()):
        new_key = 'head.fc.' + key[len('head.'):] if key.startswith(
            'head.') else 'backbone.' + key
        renamed.append((old, new_key))
        converted[new_key] = value
    return converted, renamed


def imagenet_meta() -> dict:
    """``meta`` of a converted ImageNet classifier: the 1000 class names."""
    from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
    return dict(dataset_meta=dict(classes=tuple(IMAGENET_CATEGORIES)),
                converted_by='mmagent')


@register_task
class ClassificationTask(Task):
    scope = 'mmpretrain'
    name = 'cls'
    dataset_hint = 'ImageNet'
    imagenet_checkpoint_is_model = True

    def data_sample_type(self):
        from mmpretrain.structures import DataSample
        return DataSample

    def convert_imagenet_checkpoint(self, ckpt: Mapping,
                                    filename: str = '<checkpoint>'):
        """An official ImageNet checkpoint (``{'model': ...}``) as an
        mmpretrain classifier checkpoint: ``(new_checkpoint, renames)``."""
        state_dict = extract_state_dict(ckpt, filename, prefix='')
        state_dict, renamed = imagenet_to_classifier(state_dict)
        return dict(meta=imagenet_meta(), state_dict=state_dict), renamed

    def models_registry(self):
        from mmpretrain.registry import MODELS
        return MODELS

    def synthetic_training_record(self, root, height, width, index):
        path = self._write_noise_image(root, f'cls_{index}', height, width,
                                       index)
        return dict(img_path=path, gt_label=index % 2)

    def complexity_shape(self, cfg):
        """The size the config tests at: its test pipeline's crop (or
        fixed resize), else the backbone's pretraining size."""
        pipeline = cfg.get('test_dataloader', {}).get('dataset', {}).get(
            'pipeline', [])
        for step in reversed(pipeline):
            size = step.get('crop_size') if step.get('type') == 'CenterCrop' \
                else step.get('scale') if step.get('type') == 'Resize' \
                else None
            if size is not None:
                return tuple(size) if isinstance(size, (list, tuple)) \
                    else (size, size)
        side = cfg.model.get('backbone', {}).get('pretrain_img_size', 224)
        return side, side

    def check_sample(self, sample, dataset):
        label = sample['data_samples'].get('gt_label')
        classes = dataset.metainfo.get('classes')
        if label is None or not classes:
            return None
        if ((label < 0) | (label >= len(classes))).any():
            return (f'label {label.tolist()} is outside the {len(classes)} '
                    f'classes')
        return None

    def registries(self):
        from mmpretrain.registry import DATASETS, VISUALIZERS
        return DATASETS, VISUALIZERS

    def draw_sample(self, visualizer, name, image, sample, show, wait_time,
                    out_file):
        visualizer.visualize_cls(
            image, sample, classes=visualizer.dataset_meta.get('classes'),
            draw_pred=False, show=show, wait_time=wait_time,
            out_file=out_file, name=name)

    def enable_visualization(self, cfg, show, show_dir, wait_time):
        super().enable_visualization(cfg, show, show_dir, wait_time)
        # mmpretrain's hook is switched by `enable` and has no `draw`.
        hook = cfg.default_hooks.visualization
        hook['enable'] = True
        hook.pop('draw')

    def build_inferencer(self, cfg, weights, device, palette, show_progress):
        from mmpretrain.apis import ImageClassificationInferencer
        from mmpretrain.visualization import UniversalVisualizer
        inferencer = ImageClassificationInferencer(
            model=cfg, pretrained=weights or False, device=device)
        if inferencer.visualizer is None:
            inferencer.visualizer = UniversalVisualizer()
        inferencer.show_progress = show_progress
        return inferencer

    def set_dataset_meta(self, inferencer, meta, palette):
        # mmpretrain's inferencer keeps the names itself, not on the model.
        inferencer.classes = meta['classes']
        inferencer.visualizer.dataset_meta = dict(classes=meta['classes'])

    def class_names(self, inferencer):
        return inferencer.classes

    def export_outputs(self, model, inputs):
        return (model(inputs, mode='tensor'),)  # the logits

    def predict_from_outputs(self, model, outputs, data_samples):
        # ClsHead.predict after its forward: softmax, top class
        return model.head._get_predictions(outputs[0], data_samples)

    def predict(self, inferencer, images, score_thr, opacity):
        samples = inferencer(images, batch_size=len(images),
                             return_datasamples=True)
        pictures = []
        for image, sample in zip(images, samples):
            # small images are drawn at a 256 short edge, so that the label
            # stays readable
            inferencer.visualizer.visualize_cls(
                image[..., ::-1], sample, classes=inferencer.classes,
                draw_gt=False,
                resize=MIN_PICTURE_SIDE
                if min(image.shape[:2]) < MIN_PICTURE_SIDE else None)
            pictures.append(inferencer.visualizer.get_image())
        return list(zip(samples, pictures))

    def prediction_record(self, inferencer, prediction, path, out_stem,
                          score_thr):
        scores = prediction.pred_score.detach().cpu()
        top = scores.topk(min(TOPK, scores.numel()))
        classes = self.class_names(inferencer)
        labels = top.indices.tolist()
        return dict(
            img_path=path,
            labels=labels,
            scores=[round(float(s), 6) for s in top.values],
            label_names=[classes[i] for i in labels] if classes else None)

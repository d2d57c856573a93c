from .shapes_imagenet import CLASSES as SHAPE_IMAGENET_CLASSES
from .shapes_imagenet import write_shapes_imagenet
from .synthetic import (SCENE_CLASSES, SCENE_PALETTE, SHAPE_CLASSES,
                        write_scenes_ade20k, write_shapes_coco)

__all__ = [
    'SCENE_CLASSES', 'SCENE_PALETTE', 'SHAPE_CLASSES',
    'SHAPE_IMAGENET_CLASSES', 'write_scenes_ade20k', 'write_shapes_coco',
    'write_shapes_imagenet'
]

from .synthetic import (SCENE_CLASSES, SCENE_PALETTE, SHAPE_CLASSES,
                        write_scenes_ade20k, write_shapes_coco)

__all__ = [
    'SCENE_CLASSES', 'SCENE_PALETTE', 'SHAPE_CLASSES', 'write_scenes_ade20k',
    'write_shapes_coco'
]

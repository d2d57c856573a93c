from .inference import (ImageLoadError, collect_images, dataset_meta_of,
                        init_inferencer, load_image, model_index,
                        prepare_weights, resolve_config)

__all__ = [
    'ImageLoadError', 'collect_images', 'dataset_meta_of', 'init_inferencer',
    'load_image', 'model_index', 'prepare_weights', 'resolve_config'
]

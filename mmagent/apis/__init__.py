# Copyright (c) mmagent contributors. All rights reserved.
"""User-level entry points: inference, weights, model complexity."""
from .complexity import model_complexity
from .inference import init_inferencer, save_predictions
from .models import fetch_weights, get_model, list_models
from .weights import (check_fits_config, convert_checkpoint, dataset_meta_of,
                      prepare_weights)

__all__ = [
    'model_complexity', 'dataset_meta_of', 'init_inferencer',
    'save_predictions', 'check_fits_config', 'convert_checkpoint',
    'prepare_weights', 'fetch_weights', 'get_model', 'list_models'
]

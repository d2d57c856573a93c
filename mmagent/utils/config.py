# Copyright (c) mmagent contributors. All rights reserved.
"""Loading a config the way every tool does."""
import os.path as osp

from mmengine.config import Config
from mmengine.registry import init_default_scope


def load_config(path: str, cfg_options: dict = None,
                init_scope: bool = False) -> Config:
    """``Config.fromfile`` with ``--cfg-options`` merged; ``init_scope``
    also sets the config's default scope (for tools that build modules
    without a Runner). ``package::path`` names a config shipped by an
    OpenMMLab package (``mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py``).
    """
    if '::' in path:
        from mmengine.hub import get_config
        cfg = get_config(path)
    else:
        cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if init_scope:
        init_default_scope(default_scope(cfg))
    return cfg


#: The scope of a config that sets none (every config of ours sets one).
DEFAULT_SCOPE = 'mmdet'


def default_scope(cfg) -> str:
    """A config's ``default_scope``, :data:`DEFAULT_SCOPE` when unset."""
    return cfg.get('default_scope', DEFAULT_SCOPE)


def resolve_work_dir(cfg, work_dir: str, config_path: str) -> None:
    """``--work-dir``, else the config's, else ``work_dirs/<config name>``
    (mmdet's rule)."""
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join(
            './work_dirs', osp.splitext(osp.basename(config_path))[0])

# Copyright (c) mmagent contributors. All rights reserved.
"""Print the fully merged config (all ``_base_`` files and overrides)."""
import argparse

from mmengine.config import DictAction

import mmagent  # noqa: F401
from mmagent.utils.config import load_config


def main():
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config')
    parser.add_argument('--save-path', help='also write the merged config')
    args = parser.parse_args()
    cfg = load_config(args.config, args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'saved to {args.save_path}')


if __name__ == '__main__':
    main()

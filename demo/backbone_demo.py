"""Backbone demo: run Agent-PVT-T and Agent-Swin-T (built through the mmdet
and mmseg registries, as configs do) on an embedded synthetic image, check
that the fast path agrees with the reference operation order, and save the
feature maps as a picture.

    python demo/backbone_demo.py [--out-dir work_dirs/demo] [--size 512 768]
"""
import argparse
import os
import os.path as osp
import time

import numpy as np
import torch
from mmengine.registry import DefaultScope

import mmagent  # noqa: F401  (registers the backbones)


def synthetic_image(height, width, seed=0):
    """A deterministic RGB scene: textured background, discs, boxes."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack([
        128 + 60 * np.sin(xx / 23.0), 128 + 60 * np.cos(yy / 31.0),
        128 + 40 * np.sin((xx + yy) / 17.0)
    ], -1)
    for _ in range(12):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        r = rng.integers(min(height, width) // 20, min(height, width) // 6)
        colour = rng.integers(0, 256, size=3)
        if rng.random() < 0.5:
            mask = (yy - cy)**2 + (xx - cx)**2 < r**2
        else:
            mask = (abs(yy - cy) < r) & (abs(xx - cx) < r * 1.5)
        img[mask] = colour
    return np.clip(img, 0, 255).astype(np.uint8)


def to_tensor(img):
    mean = np.array([123.675, 116.28, 103.53])
    std = np.array([58.395, 57.12, 57.375])
    x = (img.astype(np.float32) - mean) / std
    return torch.from_numpy(x.transpose(2, 0, 1)).float()[None]


def feature_picture(outs):
    """One row per stage: channel-energy maps upsampled to a common width."""
    import cv2
    rows = []
    width = 256
    for out in outs:
        energy = out[0].pow(2).mean(0).sqrt().numpy()
        energy = (energy - energy.min()) / (np.ptp(energy) + 1e-6)
        height = max(1, int(round(width * energy.shape[0] / energy.shape[1])))
        energy = cv2.resize(energy, (width, height),
                            interpolation=cv2.INTER_NEAREST)
        rows.append(cv2.applyColorMap((energy * 255).astype(np.uint8),
                                      cv2.COLORMAP_VIRIDIS))
    return np.concatenate(rows, 0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out-dir', default='work_dirs/demo')
    parser.add_argument('--size', type=int, nargs=2, default=[512, 768],
                        metavar=('H', 'W'))
    args = parser.parse_args()
    import cv2
    os.makedirs(args.out_dir, exist_ok=True)
    torch.manual_seed(0)
    img = synthetic_image(*args.size)
    cv2.imwrite(osp.join(args.out_dir, 'input.png'), img[..., ::-1])
    x = to_tensor(img)

    for scope, cfg in [('mmdet', dict(type='AgentPVT', arch='t')),
                       ('mmseg', dict(type='AgentSwinTransformer', arch='t'))]:
        registry = __import__(f'{scope}.registry', fromlist=['M']).MODELS
        with DefaultScope.overwrite_default_scope(scope):
            fast = registry.build(dict(cfg, exact=False)).eval()
            exact = registry.build(dict(cfg, exact=True)).eval()
        exact.load_state_dict(fast.state_dict())
        params = sum(p.numel() for p in fast.parameters()) / 1e6
        timings = {}
        with torch.no_grad():
            for name, model in (('exact', exact), ('fast', fast)):
                model(x)  # warm-up
                start = time.perf_counter()
                outs = model(x)
                timings[name] = time.perf_counter() - start
                if name == 'exact':
                    ref = outs
        err = max(((o - r).abs().max() / r.abs().max()).item()
                  for o, r in zip(outs, ref))
        shapes = ', '.join(str(tuple(o.shape[1:])) for o in outs)
        print(f'[{scope}] {cfg["type"]}-{cfg["arch"].upper()}: '
              f'{params:.2f}M params; outputs {shapes}')
        print(f'    exact {timings["exact"]:.3f}s, fast {timings["fast"]:.3f}s'
              f' ({timings["exact"] / timings["fast"]:.2f}x); '
              f'max relative difference {err:.1e}')
        if err > 1e-4:
            raise SystemExit(f'fast and exact paths disagree: {err:.2e}')
        path = osp.join(args.out_dir, f'{cfg["type"]}_features.png')
        cv2.imwrite(path, feature_picture(outs))
        print(f'    feature maps -> {path}')


if __name__ == '__main__':
    main()

"""Deployment: every family exports once with a free input size, and the
``torch.export`` program and the ONNX model (onnxruntime, CPU) give the
eager outputs at two sizes; a classifier, a segmentor (UperNet Agent-Swin)
and a detector (Mask R-CNN Agent-PVT-T) end to end through
``tools/deployment/export.py`` and ``demo/onnx_demo.py``; the exportable
forms of adaptive pooling, window padding and masks against their
definitions; clear errors.

Small widths keep each export to seconds; the full-size models are timed by
``benchmark_backbone.py --onnx``."""
import json
import os.path as osp
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import REPO_ROOT, TINY_CSWIN, TINY_FAMILIES, TINY_SIZES, _tiny
from mmagent.apis.deploy import (ExportError, ExportGraph,
                                 MatmulAdaptiveAvgPool2d, OnnxModel,
                                 build_model, export_model, export_program,
                                 exported_metadata, program_metadata,
                                 relative_error, save_onnx,
                                 use_exported_model)
from mmagent.models.layers.attention.common import adaptive_pool_matrix
from mmagent.models.layers.attention.window import (shifted_window_mask,
                                                    window_partition)

REPO = REPO_ROOT
CLS_CONFIG = 'configs/cls/demo/agent-pvt-mini_demo-shapes.py'
DET_CONFIG = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'
SEG_CONFIG = 'configs/seg/upernet_agent-swin-t_160k_ade20k-512x512.py'
TOLERANCE = 1e-4
# Export time grows with the number of blocks: the families' smallest
# layouts that still have every kind of block (agent, window and shifted
# window, mixed stage; CSWin's stripes and last-stage full map).
EXPORT_FAMILIES = dict(
    TINY_FAMILIES,
    **{'agent-swin': _tiny('AgentSwinTransformer', embed_dims=16,
                           depths=[1, 1, 2, 2], num_heads=[1, 2, 4, 8],
                           attn_type='AAMB1', drop_path_rate=0.),
       'flatten-swin': _tiny('FLattenSwinTransformer', arch=dict(
           embed_dims=16, depths=[1, 1, 2, 2], num_heads=[1, 2, 4, 8],
           attn_type='LLSS'), drop_path_rate=0.),
       'agent-cswin': _tiny('AgentCSWin', **dict(TINY_CSWIN,
                                                 depth=[1, 1, 1, 1])),
       'flatten-cswin': _tiny('FLattenCSWin', **dict(TINY_CSWIN,
                                                     depth=[1, 1, 1, 1]))})
# CSWin's free-size export takes multiples of 224 from two of them
EXPORT_SIZES = dict(TINY_SIZES, **{
    name: [(448, 448), (448, 672)] for name in ('agent-cswin',
                                                'flatten-cswin')})


def run_tool(*args):
    return subprocess.run([sys.executable, *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


# ---------------------------------------------------------------- exportable
@pytest.mark.parametrize('src', range(1, 23))
def test_pool_matrix_is_adaptive_average_pooling(src):
    """The matrix that replaces adaptive pooling in exported graphs (agent
    pooling, UperNet's pyramid) against PyTorch's kernel, dividing or not."""
    x = torch.randn(2, 3, src, 5, dtype=torch.float64)
    for dst in range(1, src + 8):  # also more outputs than inputs
        matrix = adaptive_pool_matrix(src, dst, x)
        expected = F.adaptive_avg_pool2d(x, (dst, 5))
        torch.testing.assert_close(matrix @ x, expected, rtol=0, atol=1e-12)
    module = MatmulAdaptiveAvgPool2d((3, None)).double()
    torch.testing.assert_close(module(x), nn.AdaptiveAvgPool2d((3, None))(x))


def test_shift_mask_by_comparisons_is_the_sliced_definition():
    """Swin's SW-MSA mask written with comparisons (exportable with a free
    size) against the official slice-assignment construction."""
    for ws, shift in [(7, 3), (4, 2), (2, 1)]:
        for hp, wp in [(ws, ws), (2 * ws, 3 * ws), (4 * ws, ws)]:
            region = torch.zeros(1, hp, wp, 1)
            slices = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
            count = 0
            for h in slices:
                for w in slices:
                    region[:, h, w, :] = count
                    count += 1
            ids = window_partition(region, ws).squeeze(-1)
            diff = ids.unsqueeze(1) - ids.unsqueeze(2)
            expected = diff.masked_fill(diff != 0, -100.).masked_fill(
                diff == 0, 0.)
            torch.testing.assert_close(
                shifted_window_mask((hp, wp), ws, shift, 'cpu'), expected)


# ---------------------------------------------------------------- families
@pytest.mark.parametrize('family', sorted(EXPORT_FAMILIES))
@pytest.mark.slow
def test_one_dynamic_export_serves_two_sizes(family, tmp_path):
    """One ``torch.export`` with height and width free; the program and its
    ONNX conversion on onnxruntime against eager PyTorch at two sizes."""
    torch.manual_seed(0)
    graph = ExportGraph(EXPORT_FAMILIES[family]().eval())
    sizes = EXPORT_SIZES[family]
    program = export_program(graph, sizes[0], dynamic=True)
    path = str(tmp_path / f'{family}.onnx')
    save_onnx(program, path, program_metadata(graph, program, sizes[0]))
    onnx_model = OnnxModel(path)
    for size in sizes:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            expected = graph(x)
            exported = program.module()(x)
        assert relative_error(exported, expected) <= TOLERANCE, size
        assert relative_error(onnx_model(x), expected) <= TOLERANCE, size
    if 'cswin' in family:  # stripes must tile every stage
        with pytest.raises(ValueError, match='multiples of 224'):
            onnx_model(torch.randn(1, 3, 448, 500))


# ---------------------------------------------------------------- tasks
@pytest.fixture(scope='module')
def cls_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model, _, _ = build_model(osp.join(REPO, CLS_CONFIG))
    path = str(tmp_path_factory.mktemp('cls') / 'cls.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def write_images(folder, sizes=((64, 80), (96, 96))):
    from PIL import Image
    rng = np.random.default_rng(0)
    paths = []
    for i, (h, w) in enumerate(sizes):
        path = str(folder / f'image{i}.png')
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                        ).save(path)
        paths.append(path)
    return paths


@pytest.mark.slow
def test_classifier_export_tool_and_onnx_demo(tmp_path, cls_checkpoint):
    """export.py -> onnx_demo.py: the same labels and scores as
    image_demo.py with the checkpoint, on images of two sizes."""
    onnx_file = str(tmp_path / 'cls.onnx')
    out = run_tool('tools/deployment/export.py', CLS_CONFIG, cls_checkpoint,
                   '--shape', '64', '64', '--dynamic', '--out', onnx_file,
                   '--benchmark', '2')
    assert out.returncode == 0, out.stderr[-3000:]
    # the example size and a second one (the sizes are free)
    errors = re.findall(r'onnxruntime vs PyTorch at (\d+x\d+): largest '
                        r'relative error (\S+)', out.stdout)
    assert [size for size, _ in errors] == ['64x64', '96x128']
    assert all(float(error) <= TOLERANCE for _, error in errors)
    assert 'PyTorch eager' in out.stdout and 'onnxruntime' in out.stdout
    assert exported_metadata(onnx_file)['task'] == 'cls'
    images = write_images(tmp_path)
    onnx_run = run_tool('demo/onnx_demo.py', onnx_file, CLS_CONFIG, *images,
                        '--out-dir', str(tmp_path / 'onnx'))
    assert onnx_run.returncode == 0, onnx_run.stderr[-3000:]
    eager = eager_predictions(CLS_CONFIG, cls_checkpoint, images)
    for i, want in enumerate(eager):
        got = json.load(open(tmp_path / 'onnx' / 'preds' / f'image{i}.json'))
        scores = want.pred_score
        assert got['labels'][0] == int(scores.argmax())
        np.testing.assert_allclose(got['scores'],
                                   scores[got['labels']].numpy(),
                                   atol=TOLERANCE)
        assert (tmp_path / 'onnx' / 'vis' / f'image{i}.png').is_file()


@pytest.mark.slow
def test_export_tool_fails_above_its_tolerance(tmp_path, cls_checkpoint):
    onnx_file = tmp_path / 'cls.onnx'
    out = run_tool('tools/deployment/export.py', CLS_CONFIG, cls_checkpoint,
                   '--shape', '64', '64', '--out', str(onnx_file),
                   '--tolerance', '1e-12')
    assert out.returncode == 1
    error = float(re.search(r'largest relative error (\S+)',
                            out.stdout).group(1))
    assert 1e-12 < error <= TOLERANCE
    assert 'differs from PyTorch by more than --tolerance 1e-12 at 64x64' \
        in out.stderr
    assert onnx_file.is_file()  # kept for a look


@pytest.mark.slow
def test_torch_export_format_round_trip(tmp_path, cls_checkpoint):
    model, task, _ = build_model(osp.join(REPO, CLS_CONFIG), cls_checkpoint)
    graph = ExportGraph(model, task)
    out = str(tmp_path / 'cls.pt2')
    result = export_model(graph, (64, 64), 'torch-export', dynamic=True,
                          out=out, task_name='cls', config=CLS_CONFIG)
    assert result['meta']['min_hw'][0] <= 64 and result['meta']['dynamic']
    assert exported_metadata(out)['task'] == 'cls'
    program = torch.export.load(out)
    for size in [(64, 64), (96, 128)]:
        x = torch.randn(1, 3, *size)
        with torch.no_grad():
            assert relative_error(program.module()(x), graph(x)) <= TOLERANCE


def _predict(inferencer, images):
    from mmagent.utils.image_io import load_image
    return [inferencer.task.predict(inferencer, [load_image(path)], 0., .5)
            [0][0] for path in images]


def eager_predictions(config, checkpoint, images):
    from mmagent.apis import init_inferencer
    return _predict(init_inferencer(config, checkpoint, device='cpu'),
                    images)


def predictions_through(onnx_file, config, checkpoint, images):
    """The task's predictions of PyTorch and of the exported model, through
    the same inferencer code, one image at a time."""
    from mmagent.apis import init_inferencer
    deployed = init_inferencer(config, checkpoint, device='cpu')
    use_exported_model(deployed.model, OnnxModel(onnx_file), deployed.task)
    return (eager_predictions(config, checkpoint, images),
            _predict(deployed, images))


@pytest.mark.slow
def test_detector_after_mmdet_post_processing(tmp_path):
    """Mask R-CNN Agent-PVT-T: the exported graph ends before NMS; after
    mmdet's post-processing the boxes, labels, masks and scores equal
    PyTorch's. Then onnx_demo.py draws them."""
    torch.manual_seed(0)
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, DET_CONFIG))
    cfg.model.backbone.depths = [1, 1, 1, 1]  # one block per stage
    cfg.model.backbone.init_cfg = None
    config = str(tmp_path / 'mask_rcnn_small.py')
    cfg.dump(config)
    model, task, _ = build_model(config)
    checkpoint = str(tmp_path / 'det.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    onnx_file = str(tmp_path / 'det.onnx')
    export_model(ExportGraph(model, task), (128, 128), 'onnx', dynamic=True,
                 out=onnx_file, task_name='det', config=config)
    # two input sizes of the one free-size export: 128x128 and 96x128 (the
    # size mmdet's preprocessor pads the second to)
    images = write_images(tmp_path, [(128, 128), (90, 128)])
    eager, deployed = predictions_through(onnx_file, config, checkpoint,
                                          images)
    assert [tuple(d.metainfo['batch_input_shape']) for d in deployed] == [
        (128, 128), (96, 128)]
    for want, got in zip(eager, deployed):
        want, got = want.pred_instances, got.pred_instances
        assert len(want) > 0 and len(got) == len(want)
        assert torch.equal(got.labels, want.labels)
        torch.testing.assert_close(got.scores, want.scores, rtol=0,
                                   atol=TOLERANCE)
        torch.testing.assert_close(got.bboxes, want.bboxes, rtol=0,
                                   atol=1e-3)
        assert (got.masks != want.masks).float().mean() < 1e-3
    out = run_tool('demo/onnx_demo.py', onnx_file, config, *images,
                   '--weights', checkpoint, '--out-dir', str(tmp_path / 'o'))
    assert out.returncode == 0, out.stderr[-3000:]
    for i in range(len(images)):
        assert (tmp_path / 'o' / 'vis' / f'image{i}.png').is_file()
        record = json.load(open(tmp_path / 'o' / 'preds' / f'image{i}.json'))
        assert 'bboxes' in record and 'label_names' in record
    missing = run_tool('demo/onnx_demo.py', onnx_file, config, *images)
    assert missing.returncode == 1 and '--weights' in missing.stderr


SMALL_UPERNET = {
    'model.backbone.arch': dict(embed_dims=32, depths=[1, 1, 2, 2],
                                num_heads=[1, 2, 4, 8], attn_type='AAMB1'),
    'model.decode_head.in_channels': [32, 64, 128, 256],
    'model.decode_head.channels': 32,
    'model.auxiliary_head.in_channels': 128,
    'model.auxiliary_head.channels': 32,
}


@pytest.mark.slow
def test_segmentor_per_pixel_logits_and_demo(tmp_path):
    """UperNet Agent-Swin (small widths): the exported per-pixel logits
    (pyramid pooling through the matmul form, 6x6 bins from a 4x5 map),
    the label maps after mmseg's post-processing, and onnx_demo.py's
    pictures. Exported for the one size the images are resized to: a free
    size costs minutes to export here (the families' test covers it)."""
    from mmengine.config import Config
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(REPO, SEG_CONFIG))
    cfg.model.backbone.arch = SMALL_UPERNET['model.backbone.arch']
    cfg.merge_from_dict({k: v for k, v in SMALL_UPERNET.items()
                         if k != 'model.backbone.arch'})
    cfg.model.backbone.init_cfg = None
    # short test images: 2048x512 would be slow on 2 cores
    cfg.test_dataloader.dataset.pipeline[1]['scale'] = (256, 128)
    config = str(tmp_path / 'upernet_small.py')
    cfg.dump(config)
    model, task, _ = build_model(config)
    checkpoint = str(tmp_path / 'seg.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    graph = ExportGraph(model, task)
    onnx_file = str(tmp_path / 'seg.onnx')
    export_model(graph, (128, 160), 'onnx', out=onnx_file, task_name='seg',
                 config=config)
    x = torch.randn(1, 3, 128, 160)
    with torch.no_grad():
        expected = graph(x)
    assert expected[0].shape[2:] == (128, 160)
    assert relative_error(OnnxModel(onnx_file)(x), expected) <= TOLERANCE
    # both resized to 128x160 by the test pipeline
    images = write_images(tmp_path, [(64, 80), (64, 80)])
    eager, deployed = predictions_through(onnx_file, config, checkpoint,
                                          images)
    for want, got in zip(eager, deployed):
        assert (np.asarray(got) == np.asarray(want)).mean() > 0.999
    out = run_tool('demo/onnx_demo.py', onnx_file, config, *images,
                   '--out-dir', str(tmp_path / 'o'))
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / 'o' / 'vis' / 'image0.png').is_file()
    assert (tmp_path / 'o' / 'preds' / 'image1.json').is_file()


# ---------------------------------------------------------------- errors
@pytest.mark.slow
def test_bad_requests_get_one_clear_error(tmp_path, cls_checkpoint):
    unknown = run_tool('tools/deployment/export.py', CLS_CONFIG,
                       cls_checkpoint, '--format', 'tflite')
    assert unknown.returncode == 1
    assert "unknown format 'tflite'" in unknown.stderr
    assert 'Traceback' not in unknown.stderr
    torch.save({'state_dict': {'backbone.nothing': torch.zeros(1)}},
               tmp_path / 'other.pth')
    misfit = run_tool('tools/deployment/export.py', CLS_CONFIG,
                      str(tmp_path / 'other.pth'))
    assert misfit.returncode == 1 and 'do not fit' in misfit.stderr
    assert 'Traceback' not in misfit.stderr

    tiny = run_tool('tools/deployment/export.py', CLS_CONFIG, cls_checkpoint,
                    '--shape', '2', '2')
    assert tiny.returncode == 1 and 'failed on a 2x2 input' in tiny.stderr
    assert 'Traceback' not in tiny.stderr

    # a switch on the map size cannot be left free
    classifier_swin = _tiny('AgentSwinTransformer', embed_dims=16,
                            depths=[1, 1, 2, 2], num_heads=[1, 2, 4, 8],
                            attn_type='AAMB1', pad_small_map=False)()
    with pytest.raises(ExportError, match='pad_small_map=False'):
        export_program(ExportGraph(classifier_swin.eval()), (224, 224),
                       dynamic=True)
    cswin = EXPORT_FAMILIES['agent-cswin']().eval()
    with pytest.raises(ExportError, match='multiples of 224 from 448'):
        export_program(ExportGraph(cswin), (224, 224), dynamic=True)

    class DataDependent(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # a branch on the data: not exportable
                return (x * 2,)
            return (x,)

    with pytest.raises(ExportError) as error:
        export_program(ExportGraph(DataDependent()), (8, 8))
    assert 'in DataDependent' in str(error.value)


@pytest.mark.slow
def test_exported_file_names_its_input_limits(tmp_path, cls_checkpoint):
    model, task, _ = build_model(osp.join(REPO, CLS_CONFIG), cls_checkpoint)
    fixed = str(tmp_path / 'fixed.onnx')
    export_model(ExportGraph(model, task), (64, 64), 'onnx', out=fixed,
                 task_name='cls')
    with pytest.raises(ValueError, match='exported for 64x64 inputs only'):
        OnnxModel(fixed)(torch.randn(1, 3, 96, 96))
    # a batch larger than the export's runs image by image
    x = torch.randn(3, 3, 64, 64)
    with torch.no_grad():
        expected = ExportGraph(model, task)(x)
    assert relative_error(OnnxModel(fixed)(x), expected) <= TOLERANCE
    with pytest.raises(FileNotFoundError):
        OnnxModel(str(tmp_path / 'missing.onnx'))
    (tmp_path / 'broken.onnx').write_bytes(b'not a model')
    with pytest.raises(ValueError, match='not a readable ONNX model'):
        OnnxModel(str(tmp_path / 'broken.onnx'))


def test_import_mmagent_does_not_import_the_deploy_extra():
    code = ('import sys, mmagent, mmagent.apis; '
            'print(sorted(m for m in ("onnx", "onnxruntime", "onnxscript") '
            'if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == '[]'

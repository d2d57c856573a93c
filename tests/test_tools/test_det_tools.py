"""Detection tools end to end on CPU: the data check, distributed training
with 2 processes (gloo), testing with COCO metrics, FLOPs, the checkpoint
converter, print_config and browse_dataset."""
import os
import os.path as osp
import pickle
import sys

import pytest
import torch
from conftest import assert_tensors_equal, run, write_official_checkpoint

# end-to-end runs of the tools (subprocesses): `make test-fast` skips them
pytestmark = pytest.mark.slow

DEMO_CFG = 'configs/det/demo/mask-rcnn_agent-pvt-t_fpn_demo-shapes.py'
PVT_T_MRCNN = 'configs/det/mask-rcnn_agent-pvt-t_fpn_1x_coco.py'


def data_options(root):
    return [f'train_dataloader.dataset.data_root={root}',
            f'val_dataloader.dataset.data_root={root}',
            f'test_dataloader.dataset.data_root={root}',
            f'val_evaluator.ann_file={root}annotations/instances_val.json',
            f'test_evaluator.ann_file={root}annotations/instances_val.json',
            # the demo starts from the segmentation demo's backbone
            'model.backbone.init_cfg=None']


def test_missing_coco_gives_one_clear_message(tmp_path):
    result = run([sys.executable, 'tools/train.py', PVT_T_MRCNN,
                  '--work-dir', str(tmp_path)], check=False)
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr
    assert 'expected under data/coco/' in result.stderr
    assert 'data/coco/annotations/instances_train2017.json' in result.stderr
    assert '--cfg-options' in result.stderr
    assert not os.listdir(tmp_path)  # nothing written, nothing lost


@pytest.fixture(scope='module')
def dist_trained(tiny_coco, tmp_path_factory):
    """tools/dist_train.sh CONFIG 2 on the CPU: two gloo processes."""
    work_dir = str(tmp_path_factory.mktemp('dist'))
    result = run(['bash', 'tools/dist_train.sh', DEMO_CFG, '2', '--work-dir',
                  work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
                  'train_cfg.val_begin=1',  # the demo skips validation
                  'train_dataloader.batch_size=2',
                  'default_hooks.logger.interval=1',
                  'train_dataloader.num_workers=0',
                  'train_dataloader.persistent_workers=False',
                  'val_dataloader.num_workers=0',
                  'val_dataloader.persistent_workers=False',
                  *data_options(tiny_coco)],
                 env=dict(PYTHON=sys.executable, PORT='29531',
                          OMP_NUM_THREADS='1'))
    return work_dir, result.stdout + result.stderr


def test_dist_train_two_cpu_processes(dist_trained):
    work_dir, log = dist_trained
    assert 'Distributed training: True' in log
    assert "dist_cfg: {'backend': 'gloo', 'timeout': 600}" in log
    assert 'Epoch(train) [1][2/2]' in log  # 8 images / (2 procs x 2)
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert 'coco/bbox_mAP' in log


def test_test_tool_reports_coco_map(dist_trained, tiny_coco, tmp_path):
    work_dir, _ = dist_trained
    out = tmp_path / 'results.pkl'
    result = run([sys.executable, 'tools/test.py', DEMO_CFG,
                  osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
                  str(tmp_path), '--out', str(out), '--show-dir', 'vis',
                  '--cfg-options', 'test_dataloader.num_workers=0',
                  'test_dataloader.persistent_workers=False',
                  *data_options(tiny_coco)])
    log = result.stdout + result.stderr
    assert 'coco/bbox_mAP:' in log and 'coco/segm_mAP:' in log
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 4
    vis = [f for _, _, files in os.walk(tmp_path) for f in files
           if f.endswith('.png')]
    assert len(vis) == 4


def test_get_flops_counts_agent_attention():
    from mmagent.apis import model_complexity
    flops, params, _ = model_complexity(PVT_T_MRCNN, [256, 320],
                                        backbone_only=True)
    skipped, _, _ = model_complexity(PVT_T_MRCNN, [256, 320],
                                     backbone_only=True, count_sdpa=False)
    assert abs(params / 1e6 - 11.06) < 0.01
    # What mmengine misses is exactly the official 4*n*Na*C per agent
    # block (n tokens, Na agents, C channels), 2 blocks per stage of PVT-T.
    tokens = [64 * 80, 32 * 40, 16 * 20, 8 * 10]
    agents = [12 * 12, 16 * 16, 28 * 28, 28 * 28]
    channels = [64, 128, 320, 512]
    expected = sum(2 * 4 * n * a * c
                   for n, a, c in zip(tokens, agents, channels))
    assert flops - skipped == expected


def test_get_flops_script_whole_detector():
    result = run([sys.executable, 'tools/analysis_tools/get_flops.py',
                  'configs/det/retinanet_agent-pvt-t_fpn_1x_coco.py',
                  '--shape', '256', '320'])
    assert 'FLOPs (multiply-accumulates):' in result.stdout
    assert 'params: 21.3' in result.stdout


def official_style_checkpoint(config, path):
    """An mmdet 2.25-style checkpoint with the official key layout."""
    return write_official_checkpoint(
        config, path, 'mmdet',
        {'mmdet_version': '2.25.2', 'config': 'model = dict(...)',
         'CLASSES': ('person', 'bicycle'), 'epoch': 12, 'iter': 1})


@pytest.mark.parametrize('config', [
    PVT_T_MRCNN, 'configs/det/cascade-mask-rcnn_agent-swin-t_fpn_1x_coco.py'])
def test_converter_round_trip(tmp_path, config):
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    keys = official_style_checkpoint(config, src)
    result = run([sys.executable,
                  'tools/model_converters/official2mmagent.py', str(src),
                  str(dst), '--config', config])
    assert 'loads into' in result.stdout and '0 keys renamed' in result.stdout
    converted = torch.load(dst, weights_only=False)
    assert 'optimizer' not in converted
    assert list(converted['state_dict']) == list(keys)
    assert converted['meta']['dataset_meta']['classes'] == ('person',
                                                            'bicycle')
    original = torch.load(src, weights_only=False)['state_dict']
    assert_tensors_equal(converted['state_dict'],
                         {k: original[k] for k in keys})


def test_converter_rejects_other_architecture(tmp_path):
    src = tmp_path / 'official.pth'
    official_style_checkpoint(PVT_T_MRCNN, src)
    result = run([sys.executable,
                  'tools/model_converters/official2mmagent.py', str(src),
                  str(tmp_path / 'out.pth'), '--config',
                  'configs/det/retinanet_agent-pvt-t_fpn_1x_coco.py'],
                 check=False)
    assert result.returncode != 0 and 'do not fit' in result.stderr
    assert not (tmp_path / 'out.pth').exists()


def test_print_config_and_browse_dataset(tiny_coco, tmp_path):
    result = run([sys.executable, 'tools/misc/print_config.py', DEMO_CFG])
    assert "type='AgentPVT'" in result.stdout
    run([sys.executable, 'tools/analysis_tools/browse_dataset.py', DEMO_CFG,
         '--not-show', '--output-dir', str(tmp_path), '--max-images', '3',
         '--cfg-options', *data_options(tiny_coco)[:1]])
    assert len(list(tmp_path.glob('*.png'))) == 3


def test_test_tool_missing_checkpoint(tmp_path):
    result = run([sys.executable, 'tools/test.py', PVT_T_MRCNN,
                  str(tmp_path / 'nope.pth')], check=False)
    assert result.returncode != 0 and 'Traceback' not in result.stderr
    assert f'checkpoint not found: {tmp_path / "nope.pth"}' in result.stderr

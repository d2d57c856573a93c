"""BiViT's cross-layer binarization (engine/binarization.py): the switch
at the configured epoch, across a resume, and what it needs."""
import pytest
import torch
import torch.nn.functional as F
from conftest import TINY_PVT
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import MODELS
from mmengine.runner import Runner


class ToyClassifier(BaseModel):
    """A binarized tiny Agent-PVT (softmax blocks) and a linear head."""

    def __init__(self, mlp='deferred'):
        super().__init__()
        self.backbone = MODELS.build(dict(
            type='BiViT', mlp=mlp,
            backbone=dict(type='AgentPVT', attn_type='BBBB', **TINY_PVT)))
        self.head = torch.nn.Linear(64, 2)

    def forward(self, inputs, labels=None, mode='tensor'):
        logits = self.head(self.backbone(inputs)[-1].mean((2, 3)))
        if mode == 'loss':
            return dict(loss=F.cross_entropy(logits, labels))
        return logits


class RecordStage(Hook):
    priority = 'LOW'  # after the CLB hook

    def __init__(self):
        self.stages = {}

    def before_train_epoch(self, runner):
        fc1 = runner.model.backbone.block1[0].mlp.fc1
        self.stages[runner.epoch + 1] = bool(fc1.binary_enabled)


def toy_runner(work_dir, model, train_cfg, switch_epoch, data, **kwargs):
    """An mmengine Runner training ``model`` with the CLB hook."""
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=data, batch_size=2, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        train_cfg=train_cfg,
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-3)),
        custom_hooks=[dict(type='CrossLayerBinarizationHook',
                           switch_epoch=switch_epoch),
                      *kwargs.pop('hooks', [])],
        default_scope='mmengine', **kwargs)


def clb_runner(work_dir, max_epochs, resume=False):
    torch.manual_seed(0)
    data = [dict(inputs=torch.randn(3, 64, 64), labels=i % 2)
            for i in range(4)]
    record = RecordStage()
    runner = toy_runner(
        work_dir, ToyClassifier(), dict(by_epoch=True, max_epochs=max_epochs),
        2, data, hooks=[record],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook',
                                           interval=1)),
        resume=resume)
    return runner, record


def test_clb_switches_at_the_configured_epoch_and_survives_resume(
        tmp_path):
    runner, record = clb_runner(tmp_path, 3)
    fc1 = runner.model.backbone.block1[0].mlp.fc1
    qkv_alpha = runner.model.backbone.block1[0].attn.q.alpha
    runner.train()
    # stage 1 for epochs 1-2, stage 2 from epoch 3
    assert record.stages == {1: False, 2: False, 3: True}
    assert fc1.alpha_initialized and bool(fc1.binary_enabled)
    # alpha was initialised from the weights stage 1 trained, then trained
    stage1 = torch.load(tmp_path / 'epoch_2.pth', weights_only=False)
    key = 'backbone.block1.0.mlp.fc1'
    assert not stage1['state_dict'][f'{key}.binary_enabled']
    assert not stage1['state_dict'][f'{key}.alpha_initialized']
    assert stage1['state_dict'][f'{key}.alpha'].abs().sum() == 0
    assert qkv_alpha.abs().sum() > 0  # the attention was binary from 1
    final = torch.load(tmp_path / 'epoch_3.pth', weights_only=False)
    assert final['state_dict'][f'{key}.binary_enabled']

    # --resume from the last stage-1 checkpoint: stage 2 again at epoch 3
    resumed_dir = tmp_path / 'resumed'
    resumed_dir.mkdir()
    (resumed_dir / 'epoch_2.pth').write_bytes(
        (tmp_path / 'epoch_2.pth').read_bytes())
    (resumed_dir / 'last_checkpoint').write_text(
        str(resumed_dir / 'epoch_2.pth'))
    runner, record = clb_runner(resumed_dir, 3, resume=True)
    runner.train()
    assert record.stages == {3: True}
    again = torch.load(resumed_dir / 'epoch_3.pth', weights_only=False)
    assert torch.allclose(again['state_dict'][f'{key}.alpha'],
                          final['state_dict'][f'{key}.alpha'])

    # a stage-2 checkpoint loads into a freshly built model in stage 2
    model = ToyClassifier()
    model.load_state_dict(final['state_dict'])
    fc1 = model.backbone.block1[0].mlp.fc1
    assert bool(fc1.binary_enabled) and fc1._enabled and fc1._alpha_ready


ONE_IMAGE = [dict(inputs=torch.randn(3, 64, 64), labels=0)] * 2


def test_clb_needs_an_epoch_based_loop(tmp_path):
    runner = toy_runner(tmp_path, ToyClassifier(),
                        dict(by_epoch=False, max_iters=1), 1, ONE_IMAGE)
    with pytest.raises(ValueError, match='epoch-based'):
        runner.train()


def test_clb_needs_deferred_mlps(tmp_path):
    runner = toy_runner(tmp_path, ToyClassifier(mlp=False),
                        dict(by_epoch=True, max_epochs=1), 1, ONE_IMAGE)
    with pytest.raises(ValueError, match="mlp='deferred'"):
        runner.train()

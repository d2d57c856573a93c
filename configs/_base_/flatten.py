# The FLatten backbones of the det and seg leaves, which inherit the Agent
# detector or segmentor of the same skeleton and swap the backbone (the
# FLatten paper gives no downstream recipe). Prefixed names: this piece sits
# beside mmdet/mmseg bases; read them through `_base_.` (leaves add their
# drop_path_rate; _delete_ drops the Agent backbone's arguments).
flatten_swin_backbone = dict(
    _delete_=True,
    type='FLattenSwinTransformer',
    window_size=56,  # focused linear stages 1-2 global, softmax windows 7
    out_indices=(0, 1, 2, 3))
flatten_swin_t = dict(
    flatten_swin_backbone, arch='t',
    init_cfg=dict(type='Pretrained',
                  checkpoint='data/pretrained/flatten_swin_t.pth'))
flatten_swin_s = dict(
    flatten_swin_backbone, arch='s',
    init_cfg=dict(type='Pretrained',
                  checkpoint='data/pretrained/flatten_swin_s.pth'))
flatten_pvt_t = dict(
    _delete_=True, type='FLattenPVT', arch='t', out_indices=(0, 1, 2, 3),
    init_cfg=dict(type='Pretrained',
                  checkpoint='data/pretrained/flatten_pvt_t.pth'))

# The PaddingAware<Model> detectors and segmentors hand each image's size
# before the batch padding (its data sample's img_shape) to the backbone,
# whose focused linear sums then leave the padding out.
flatten_det_imports = dict(
    imports=['mmagent', 'mmagent.models.dense.det'],
    allow_failed_imports=False)
flatten_seg_imports = dict(
    imports=['mmagent', 'mmagent.models.dense.seg'],
    allow_failed_imports=False)

# What every FLatten classifier backbone spells out (the official
# focusing factor and DWC kernel) over the Agent classifier it replaces.
flatten_cls_backbone = dict(
    _delete_=True, focusing_factor=3, kernel_size=5, out_indices=(3, ))

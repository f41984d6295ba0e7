# TSM on the built-in synthetic dataset: a ResNet-18 of a quarter width (base_channels=16)
# at 64x64 px, trained from scratch in about 2 minutes on 2 CPU cores.
_base_ = [
    '../../_base_/datasets/synthetic_1x1x8_video.py',
    '../../_base_/schedules/adamw_cosine_20e.py', '../../_base_/default_runtime.py'
]
model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='ResNetTSM',
        pretrained=None,
        depth=18,
        base_channels=16,
        num_segments=8,
        shift_div=8,
        norm_eval=False),
    cls_head=dict(
        type='TSMHead',
        num_classes=6,
        in_channels=128,
        num_segments=8,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,
        init_std=0.01,
        is_shift=True),
    train_cfg=None,
    test_cfg=dict(average_clips='prob'))
checkpoint_config = dict(interval=5)
log_config = dict(interval=10, hooks=[dict(type='TextLoggerHook')])
work_dir = './work_dirs/tsm_r18w16_1x1x8_20e_synthetic_rgb/'

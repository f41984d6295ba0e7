# TSN on the built-in synthetic dataset, the same network as the TSM config without the
# temporal shift. Its average consensus is blind to frame order, so it cannot separate the
# classes that differ only in the direction of motion: that is the point of the comparison.
_base_ = [
    '../../_base_/datasets/synthetic_1x1x8_video.py',
    '../../_base_/schedules/adamw_cosine_20e.py', '../../_base_/default_runtime.py'
]
model = dict(
    type='Recognizer2D',
    backbone=dict(
        type='ResNet',
        pretrained=None,
        depth=18,
        base_channels=16,
        norm_eval=False),
    cls_head=dict(
        type='TSNHead',
        num_classes=6,
        in_channels=128,
        spatial_type='avg',
        consensus=dict(type='AvgConsensus', dim=1),
        dropout_ratio=0.5,
        init_std=0.01),
    train_cfg=None,
    test_cfg=dict(average_clips='prob'))
checkpoint_config = dict(interval=5)
log_config = dict(interval=10, hooks=[dict(type='TextLoggerHook')])
work_dir = './work_dirs/tsn_r18w16_1x1x8_20e_synthetic_rgb/'

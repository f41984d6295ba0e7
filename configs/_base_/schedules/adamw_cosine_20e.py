# Small-data schedule for models trained from scratch: AdamW, 1 warm-up epoch, cosine decay.
optimizer = dict(type='AdamW', lr=0.002, weight_decay=0.01)
optimizer_config = dict(grad_clip=dict(max_norm=20, norm_type=2))
lr_config = dict(
    policy='CosineAnnealing',
    min_lr=0,
    warmup='linear',
    warmup_by_epoch=True,
    warmup_iters=1,
    warmup_ratio=0.1)
total_epochs = 20

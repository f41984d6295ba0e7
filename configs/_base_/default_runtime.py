# Runtime defaults shared by every config (MMAction2 0.24.1 values).
checkpoint_config = dict(interval=1)
log_config = dict(interval=20, hooks=[dict(type='TextLoggerHook')])
dist_params = dict(backend='nccl')
log_level = 'INFO'
load_from = None
resume_from = None
workflow = [('train', 1)]

# Keep OpenCV single-threaded inside data workers, which are already one per core.
opencv_num_threads = 0
mp_start_method = 'fork'

"""Training machinery: import what you need from the submodules.

* :mod:`~actionlab.engine.runner` - ``Runner`` (the epoch-based training loop),
  ``OmniSourceRunner``, ``to_channels_last``
* :mod:`~actionlab.engine.hooks` - ``HOOKS`` and the LR, momentum, optimizer (gradient
  accumulation, fp16/bf16), checkpoint, evaluation (single and distributed), logger
  (text/JSON, TensorBoard, W&B), timer, EMA and PreciseBN hooks
* :mod:`~actionlab.engine.lr_schedules` - ``LR_SCHEDULES`` (``lr_config`` policies)
* :mod:`~actionlab.engine.optimizers` - ``OPTIMIZERS``, ``OPTIM_CONSTRUCTORS``, ``build_optimizer``
* :mod:`~actionlab.engine.checkpoint` - reading, writing and resolving checkpoint files
* :mod:`~actionlab.engine.logging` - ``get_logger``, the JSON-lines log writer and reader
* :mod:`~actionlab.engine.seeding` - seeds, deterministic mode, generator states
* :mod:`~actionlab.engine.distributed` - ``init_dist`` (torchrun, SLURM), rank and world size

The package itself imports nothing, so that ``actionlab.models`` can use
:mod:`~actionlab.engine.checkpoint` while the runner uses the models' ``parse_losses``.
"""

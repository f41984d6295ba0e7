"""Training hooks (mmcv 1.x's protocol and config names); see :mod:`.base`."""
from actionlab.engine.hooks.base import HOOKS, Hook, Priority, get_priority
from actionlab.engine.hooks.checkpoint import CheckpointHook
from actionlab.engine.hooks.ema import EMAHook
from actionlab.engine.hooks.evaluation import DistEvalHook, EvalHook
from actionlab.engine.hooks.iter_timer import IterTimerHook
from actionlab.engine.hooks.logger import LoggerHook, TensorboardLoggerHook, TextLoggerHook, WandbLoggerHook
from actionlab.engine.hooks.lr_updater import LrUpdaterHook, build_lr_hook
from actionlab.engine.hooks.momentum_updater import MomentumUpdaterHook, build_momentum_hook
from actionlab.engine.hooks.optimizer import Fp16OptimizerHook, OptimizerHook
from actionlab.engine.hooks.precise_bn import PreciseBNHook, update_bn_stats

__all__ = ['HOOKS', 'Hook', 'Priority', 'get_priority', 'CheckpointHook', 'EMAHook', 'DistEvalHook',
           'EvalHook', 'IterTimerHook', 'LoggerHook', 'TensorboardLoggerHook', 'TextLoggerHook',
           'WandbLoggerHook', 'LrUpdaterHook', 'build_lr_hook', 'MomentumUpdaterHook', 'build_momentum_hook',
           'Fp16OptimizerHook', 'OptimizerHook', 'PreciseBNHook', 'update_bn_stats']

"""Training hooks (mmcv 1.x's protocol and config names); see :mod:`.base`."""
from actionlab.engine.hooks.base import HOOKS, Hook, Priority, get_priority
from actionlab.engine.hooks.checkpoint import CheckpointHook
from actionlab.engine.hooks.evaluation import EvalHook
from actionlab.engine.hooks.iter_timer import IterTimerHook
from actionlab.engine.hooks.logger import LoggerHook, TextLoggerHook
from actionlab.engine.hooks.lr_updater import LrUpdaterHook, build_lr_hook
from actionlab.engine.hooks.optimizer import OptimizerHook

__all__ = ['HOOKS', 'Hook', 'Priority', 'get_priority', 'CheckpointHook', 'EvalHook', 'IterTimerHook',
           'LoggerHook', 'TextLoggerHook', 'LrUpdaterHook', 'OptimizerHook', 'build_lr_hook']

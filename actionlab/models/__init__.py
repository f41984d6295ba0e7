"""Models: backbones, necks, heads, losses and whole recognizers.

Importing this package registers every model part in :data:`MODELS`, so
``build_model(dict(type='Recognizer2D', ...))`` works from a config dict.
"""
from . import backbones, heads, losses, necks, ops, recognizers  # noqa: F401  (registers the parts)
from .backbones import ResNet, ResNet3d, ResNetTSM
from .builder import MODELS, build_backbone, build_head, build_loss, build_model, build_neck, build_recognizer
from .heads import AudioTSNHead, BaseHead, I3DHead, TSMHead, TSNHead
from .losses import BCELossWithLogits, CrossEntropyLoss
from .optimize import optimize_for_inference, retain_freed_memory
from .recognizers import AudioRecognizer, BaseRecognizer, Recognizer2D, Recognizer3D, parse_losses

__all__ = [
    'MODELS', 'build_backbone', 'build_head', 'build_loss', 'build_model', 'build_neck',
    'build_recognizer', 'ResNet', 'ResNet3d', 'ResNetTSM', 'AudioTSNHead', 'BaseHead', 'I3DHead',
    'TSMHead', 'TSNHead', 'BCELossWithLogits', 'CrossEntropyLoss', 'AudioRecognizer',
    'BaseRecognizer', 'Recognizer2D', 'Recognizer3D', 'parse_losses',
    'optimize_for_inference', 'retain_freed_memory',
]

"""Recognizers: whole action-recognition models (backbone, neck, head)."""
from .audio_recognizer import AudioRecognizer
from .base import BaseRecognizer, parse_losses
from .blending import BLENDINGS, BaseMiniBatchBlending, CutmixBlending, MixupBlending
from .recognizer2d import Recognizer2D
from .recognizer3d import Recognizer3D

__all__ = ['AudioRecognizer', 'BaseRecognizer', 'Recognizer2D', 'Recognizer3D', 'parse_losses',
           'BLENDINGS', 'BaseMiniBatchBlending', 'CutmixBlending', 'MixupBlending']

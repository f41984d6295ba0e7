"""Visualisation: writing videos (drawing labels, boxes and skeletons comes later)."""
from .writer import write_video

__all__ = ['write_video']

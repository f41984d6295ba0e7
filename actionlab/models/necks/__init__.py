"""Necks: fuse backbone features before the head."""
from .tpn import TPN

__all__ = ['TPN']

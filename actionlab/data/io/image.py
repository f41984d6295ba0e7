"""Reading single frame images (raw frames, optical-flow frames) as RGB or grayscale arrays.

``cv2`` is always available; ``pillow`` and ``turbojpeg`` are used only when installed.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np

from .base import VideoReadError

IMAGE_BACKENDS = ('cv2', 'pillow', 'turbojpeg')
_MODULES = {'pillow': 'PIL', 'turbojpeg': 'turbojpeg'}


def check_image_backend(backend: str) -> None:
    """Raise a clear error for an unknown or uninstalled image decoding backend."""
    if backend not in IMAGE_BACKENDS:
        raise ValueError(f"unknown image decoding backend '{backend}'; "
                         f"choose one of {', '.join(IMAGE_BACKENDS)}")
    module = _MODULES.get(backend)
    if module and importlib.util.find_spec(module) is None:
        package = 'pillow' if backend == 'pillow' else 'PyTurboJPEG'
        raise ImportError(f"image decoding backend '{backend}' needs the '{package}' package: "
                          f"pip install {package} (or use decoding_backend='cv2')")


def read_image(path: str | Path, backend: str = 'cv2', grayscale: bool = False) -> np.ndarray:
    """Decode the image file ``path``: (H, W, 3) uint8 RGB, or (H, W) uint8 when ``grayscale``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f'frame image not found: {path}') from None
    img = _decode(data, backend, grayscale)
    if img is None:
        raise VideoReadError(f'cannot decode image {path} (empty or corrupt file)')
    return img


def _decode(data: bytes, backend: str, grayscale: bool) -> np.ndarray | None:
    if backend == 'cv2':
        flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
        if img is None or grayscale:
            return img
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if backend == 'pillow':
        import io

        from PIL import Image, UnidentifiedImageError
        try:
            with Image.open(io.BytesIO(data)) as im:
                return np.asarray(im.convert('L' if grayscale else 'RGB'))
        except (UnidentifiedImageError, OSError):
            return None
    if backend == 'turbojpeg':
        from turbojpeg import TJPF_GRAY, TJPF_RGB, TurboJPEG
        try:
            img = _turbojpeg(TurboJPEG).decode(data, pixel_format=TJPF_GRAY if grayscale
                                               else TJPF_RGB)
        except OSError:
            return None
        return img[..., 0] if grayscale and img.ndim == 3 else img
    raise ValueError(f"unknown image decoding backend '{backend}'; "
                     f"choose one of {', '.join(IMAGE_BACKENDS)}")


_TURBOJPEG = None


def _turbojpeg(cls):
    global _TURBOJPEG
    if _TURBOJPEG is None:  # loading the shared library is slow; do it once per process
        _TURBOJPEG = cls()
    return _TURBOJPEG

"""Spatial and colour transforms (resize, crops, flip, colour jitter), normalisation and
the lazy-mode ``Fuse``, with MMAction2's arithmetic: the same random draws give the same
crop boxes and output sizes.

Frames travel as one uint8 array (N, H, W, C) (Flow: (N, H, W)); a list of frames is
stacked on entry. Crops slice the whole stack at once; resizing runs ``cv2.resize`` per
frame, which is faster than resizing the stack as one many-channel image and gives
bit-identical results. Boxes (``gt_bboxes``, ``proposals``) and ``keypoint`` arrays,
when present, follow every resize, crop and flip (the successors of MMAction2's
``EntityBoxRescale``/``EntityBoxCrop``/``EntityBoxFlip``).

Lazy mode (``lazy=True`` on Resize, RandomCrop, RandomResizedCrop, MultiScaleCrop,
CenterCrop and Flip) only records the geometry: ``img_shape``, ``crop_bbox``,
``crop_quadruple`` and ``scale_factor`` change as usual, while ``results['lazy']``
accumulates the crop box in original-frame coordinates, the interpolation and the flip.
``Fuse`` then crops the original frames once, resizes once and flips, so a chain of
crops and resizes touches every pixel only once.
"""
from __future__ import annotations

import importlib
import random

import cv2
import numpy as np
import torch

from .base import TRANSFORMS, Transform, as_frames, pair

INTERPOLATIONS = {
    'nearest': cv2.INTER_NEAREST,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}


def _image_shape(results: dict) -> tuple[int, int]:
    """(h, w) of the current frames, recorded as ``img_shape`` when missing."""
    if 'img_shape' not in results:
        results['img_shape'] = as_frames(results['imgs']).shape[1:3]
    return tuple(results['img_shape'])


def init_lazy(results: dict, type_name: str, lazy: bool) -> None:
    """Start ``results['lazy']`` for a lazy transform, or refuse an eager transform while
    lazy operations are pending (their frames have not been cropped/resized yet)."""
    img_h, img_w = _image_shape(results)
    if not lazy:
        if 'lazy' in results:
            raise ValueError(f'{type_name}: results hold pending lazy operations; put Fuse '
                             f'after the lazy transforms and before {type_name}')
        return
    for key in ('keypoint', 'gt_bboxes'):
        if key in results:
            raise ValueError(f'{type_name}(lazy=True) cannot move "{key}"; use lazy=False')
    if 'lazy' not in results:
        results['lazy'] = dict(original_shape=(img_h, img_w),
                               crop_bbox=np.array([0, 0, img_w, img_h], dtype=np.float32),
                               flip=False, flip_direction=None, interpolation=None)
    elif results['lazy']['flip']:
        raise ValueError(f'{type_name}(lazy=True) after a lazy Flip is not supported; put Flip '
                         'after the lazy crops and resizes')


def resize_frames(imgs: np.ndarray, size: tuple[int, int], interpolation: str = 'bilinear'
                  ) -> np.ndarray:
    """Resize every frame of ``imgs`` (N, H, W[, C]) to ``size`` = (w, h); frames that
    already have that size are returned as they are."""
    flag = INTERPOLATIONS[interpolation]
    w, h = size
    if imgs.shape[1:3] == (h, w):
        return imgs
    out = np.empty((imgs.shape[0], h, w) + imgs.shape[3:], dtype=imgs.dtype)
    for i, img in enumerate(imgs):
        out[i] = cv2.resize(img, (w, h), interpolation=flag).reshape(out.shape[1:])
    return out


def rescale_size(w: int, h: int, scale: float | tuple) -> tuple[int, int]:
    """New (w, h) keeping the aspect ratio: ``scale`` is a factor, or (long, short) edge
    limits the image must fit in (``np.inf`` for no limit), as ``mmcv.rescale_size``."""
    if isinstance(scale, tuple):
        factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    else:
        factor = scale
    return int(w * float(factor) + 0.5), int(h * float(factor) + 0.5)


def _check_interpolation(type_name: str, interpolation: str) -> str:
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f'{type_name}: interpolation must be one of '
                         f'{", ".join(INTERPOLATIONS)}, got {interpolation!r}')
    return interpolation


@TRANSFORMS.register_module()
class Resize(Transform):
    """Resize frames (and boxes, keypoints).

    ``keep_ratio=True``: a float ``scale`` is a factor; a pair is the largest
    (long, short) edge size to fit in; a pair with -1, e.g. (-1, 256), resizes the short
    edge to 256. ``keep_ratio=False``: ``scale`` is the output (w, h). Updates
    ``img_shape``, ``keep_ratio`` and the cumulative ``scale_factor`` (w, h).
    """

    def __init__(self, scale, keep_ratio: bool = True, interpolation: str = 'bilinear',
                 lazy: bool = False):
        if isinstance(scale, float):
            if scale <= 0:
                raise ValueError(f'Resize: scale factor must be positive, got {scale}')
        elif isinstance(scale, (tuple, list)) and len(scale) == 2:
            scale = tuple(scale)
            if min(scale) == -1:
                scale = (np.inf, max(scale))  # no limit on the long edge: the short edge decides
        else:
            raise TypeError(f'Resize: scale must be a float factor or a pair of ints, '
                            f'got {scale!r}')
        if not keep_ratio and not (isinstance(scale, tuple) and np.isfinite(scale).all()):
            raise ValueError(f'Resize: keep_ratio=False needs scale=(w, h), got {scale!r}')
        self.scale = scale
        self.keep_ratio = keep_ratio
        self.interpolation = _check_interpolation('Resize', interpolation)
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'Resize', self.lazy)
        img_h, img_w = _image_shape(results)
        if self.keep_ratio:
            new_w, new_h = rescale_size(img_w, img_h, self.scale)
        else:
            new_w, new_h = (int(s) for s in self.scale)
        factor = np.array([new_w / img_w, new_h / img_h], dtype=np.float32)
        results['img_shape'] = (new_h, new_w)
        results['keep_ratio'] = self.keep_ratio
        results['scale_factor'] = results.get('scale_factor', np.ones(2, np.float32)) * factor
        if self.lazy:
            results['lazy']['interpolation'] = self.interpolation
        elif 'imgs' in results:
            results['imgs'] = resize_frames(as_frames(results['imgs']), (new_w, new_h),
                                            self.interpolation)
        if 'keypoint' in results:
            results['keypoint'] = results['keypoint'] * factor
        if 'gt_bboxes' in results:
            box_factor = np.concatenate([factor, factor])
            results['gt_bboxes'] = results['gt_bboxes'] * box_factor
            if results.get('proposals') is not None:
                results['proposals'] = results['proposals'] * box_factor
        return results


@TRANSFORMS.register_module()
class RandomRescale(Transform):
    """Resize the short edge to a random length in ``scale_range`` (inclusive), keeping the
    aspect ratio; records it as ``short_edge``."""

    def __init__(self, scale_range, interpolation: str = 'bilinear'):
        scale_range = tuple(int(s) for s in scale_range)
        if len(scale_range) != 2 or not 0 < scale_range[0] < scale_range[1]:
            raise ValueError(f'RandomRescale: scale_range must be (low, high) with '
                             f'0 < low < high, got {scale_range!r}')
        self.scale_range = scale_range
        self.interpolation = _check_interpolation('RandomRescale', interpolation)

    def __call__(self, results: dict) -> dict:
        short_edge = np.random.randint(self.scale_range[0], self.scale_range[1] + 1)
        results = Resize((-1, int(short_edge)), interpolation=self.interpolation)(results)
        results['short_edge'] = short_edge
        return results


def _crop_boxes(boxes: np.ndarray, x1: int, y1: int, w: int, h: int) -> np.ndarray:
    out = boxes.copy()
    out[..., 0::2] = np.clip(boxes[..., 0::2] - x1, 0, w - 1)
    out[..., 1::2] = np.clip(boxes[..., 1::2] - y1, 0, h - 1)
    return out


def apply_crop(results: dict, x1: int, y1: int, x2: int, y2: int, lazy: bool = False) -> dict:
    """Crop frames, keypoints and boxes to [x1, x2) x [y1, y2); update ``crop_bbox``,
    ``img_shape`` and ``crop_quadruple`` (the crop relative to the original frame).
    ``lazy``: record the crop in ``results['lazy']`` instead of cropping the frames."""
    img_h, img_w = _image_shape(results)
    if x1 < 0 or y1 < 0 or x2 > img_w or y2 > img_h or x2 <= x1 or y2 <= y1:
        raise ValueError(f'crop box {[x1, y1, x2, y2]} does not fit frames of size '
                         f'(w={img_w}, h={img_h})')
    new_w, new_h = x2 - x1, y2 - y1
    old_x, old_y, old_w, old_h = results.get('crop_quadruple', (0., 0., 1., 1.))
    results['crop_quadruple'] = np.array(
        [old_x + x1 / img_w * old_w, old_y + y1 / img_h * old_h,
         new_w / img_w * old_w, new_h / img_h * old_h], dtype=np.float32)
    results['crop_bbox'] = np.array([x1, y1, x2, y2])
    results['img_shape'] = (new_h, new_w)
    if lazy:
        # the pending crop box lives in original-frame pixels: map this crop into it
        lx1, ly1, lx2, ly2 = results['lazy']['crop_bbox']
        sx, sy = (lx2 - lx1) / img_w, (ly2 - ly1) / img_h
        results['lazy']['crop_bbox'] = np.array(
            [lx1 + x1 * sx, ly1 + y1 * sy, lx1 + x2 * sx, ly1 + y2 * sy], dtype=np.float32)
    elif 'imgs' in results:
        results['imgs'] = as_frames(results['imgs'])[:, y1:y2, x1:x2]
    if 'keypoint' in results:
        results['keypoint'] = results['keypoint'] - np.array([x1, y1])
    if 'gt_bboxes' in results:
        results['gt_bboxes'] = _crop_boxes(results['gt_bboxes'], x1, y1, new_w, new_h)
        if results.get('proposals') is not None:
            results['proposals'] = _crop_boxes(results['proposals'], x1, y1, new_w, new_h)
    return results


@TRANSFORMS.register_module()
class RandomCrop(Transform):
    """A random ``size`` x ``size`` crop, the same box for every frame."""

    def __init__(self, size: int, lazy: bool = False):
        if not isinstance(size, int):
            raise TypeError(f'RandomCrop: size must be an int, got {size!r}')
        self.size = size
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'RandomCrop', self.lazy)
        img_h, img_w = _image_shape(results)
        if self.size > img_h or self.size > img_w:
            raise ValueError(f'RandomCrop: crop size {self.size} exceeds frames of size '
                             f'(w={img_w}, h={img_h})')
        # np.random.randint excludes its upper bound, so (as in MMAction2) the crop never
        # touches the bottom/right border unless it spans the whole side
        y = int(np.random.randint(0, img_h - self.size)) if img_h > self.size else 0
        x = int(np.random.randint(0, img_w - self.size)) if img_w > self.size else 0
        return apply_crop(results, x, y, x + self.size, y + self.size, self.lazy)


@TRANSFORMS.register_module()
class RandomResizedCrop(Transform):
    """Inception-style crop: random area fraction in ``area_range`` and log-uniform aspect
    ratio (w/h) in ``aspect_ratio_range``; after 10 failed draws, a centred square. The
    crop is not resized (follow it with Resize)."""

    def __init__(self, area_range=(0.08, 1.0), aspect_ratio_range=(3 / 4, 4 / 3),
                 lazy: bool = False):
        self.area_range = tuple(float(a) for a in pair(area_range, 'area_range'))
        self.aspect_ratio_range = tuple(float(a) for a in
                                        pair(aspect_ratio_range, 'aspect_ratio_range'))
        if not 0 < self.area_range[0] <= self.area_range[1] <= 1:
            raise ValueError(f'RandomResizedCrop: area_range must satisfy 0 < low <= high <= 1, '
                             f'got {self.area_range}')
        if not 0 < self.aspect_ratio_range[0] <= self.aspect_ratio_range[1]:
            raise ValueError(f'RandomResizedCrop: aspect_ratio_range must satisfy '
                             f'0 < low <= high, got {self.aspect_ratio_range}')
        self.lazy = lazy

    @staticmethod
    def get_crop_bbox(img_shape: tuple[int, int], area_range: tuple[float, float],
                      aspect_ratio_range: tuple[float, float], max_attempts: int = 10
                      ) -> tuple[int, int, int, int]:
        """A random crop box (x1, y1, x2, y2) for an image of ``img_shape`` (h, w)."""
        img_h, img_w = img_shape
        area = img_h * img_w
        min_ar, max_ar = aspect_ratio_range
        aspect_ratios = np.exp(np.random.uniform(np.log(min_ar), np.log(max_ar),
                                                 size=max_attempts))
        target_areas = np.random.uniform(*area_range, size=max_attempts) * area
        crop_ws = np.round(np.sqrt(target_areas * aspect_ratios)).astype(np.int32)
        crop_hs = np.round(np.sqrt(target_areas / aspect_ratios)).astype(np.int32)
        for crop_w, crop_h in zip(crop_ws.tolist(), crop_hs.tolist()):
            if crop_h <= img_h and crop_w <= img_w:
                x = random.randint(0, img_w - crop_w)
                y = random.randint(0, img_h - crop_h)
                return x, y, x + crop_w, y + crop_h
        size = min(img_h, img_w)
        x, y = (img_w - size) // 2, (img_h - size) // 2
        return x, y, x + size, y + size

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'RandomResizedCrop', self.lazy)
        box = self.get_crop_bbox(_image_shape(results), self.area_range,
                                 self.aspect_ratio_range)
        return apply_crop(results, *box, lazy=self.lazy)


@TRANSFORMS.register_module()
class MultiScaleCrop(Transform):
    """TSN's multi-scale crop: crop width and height are ``base * scale`` for scales whose
    levels differ by at most ``max_wh_scale_gap`` (base = the short side), snapped to
    ``input_size`` when within 2 px; the position is random (``random_crop``) or one of
    5 (corners, centre) or 13 fixed places. The crop is not resized (follow with Resize)."""

    def __init__(self, input_size, scales=(1,), max_wh_scale_gap: int = 1,
                 random_crop: bool = False, num_fixed_crops: int = 5, lazy: bool = False):
        self.input_size = tuple(int(s) for s in pair(input_size, 'input_size'))
        self.scales = tuple(scales) if isinstance(scales, (tuple, list)) else (scales,)
        if num_fixed_crops not in (5, 13):
            raise ValueError(f'MultiScaleCrop: num_fixed_crops must be 5 or 13, '
                             f'got {num_fixed_crops}')
        self.max_wh_scale_gap = max_wh_scale_gap
        self.random_crop = random_crop
        self.num_fixed_crops = num_fixed_crops
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'MultiScaleCrop', self.lazy)
        img_h, img_w = _image_shape(results)
        base_size = min(img_h, img_w)
        crop_sizes = [int(base_size * s) for s in self.scales]
        candidates = [[w, h] for i, h in enumerate(crop_sizes) for j, w in enumerate(crop_sizes)
                      if abs(i - j) <= self.max_wh_scale_gap]
        crop_size = random.choice(candidates)
        for i in range(2):
            if abs(crop_size[i] - self.input_size[i]) < 3:
                crop_size[i] = self.input_size[i]
        crop_w, crop_h = crop_size
        if self.random_crop:
            x = random.randint(0, img_w - crop_w)
            y = random.randint(0, img_h - crop_h)
        else:
            w_step, h_step = (img_w - crop_w) // 4, (img_h - crop_h) // 4
            offsets = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2)]
            if self.num_fixed_crops == 13:
                offsets += [(0, 2), (4, 2), (2, 4), (2, 0), (1, 1), (3, 1), (1, 3), (3, 3)]
            i, j = random.choice(offsets)
            x, y = i * w_step, j * h_step
        results['scales'] = self.scales
        return apply_crop(results, x, y, x + crop_w, y + crop_h, self.lazy)


@TRANSFORMS.register_module()
class CenterCrop(Transform):
    """Crop the centre ``crop_size`` = (w, h) (an int gives a square)."""

    def __init__(self, crop_size, lazy: bool = False):
        self.crop_size = tuple(int(s) for s in pair(crop_size, 'crop_size'))
        self.lazy = lazy

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'CenterCrop', self.lazy)
        img_h, img_w = _image_shape(results)
        crop_w, crop_h = self.crop_size
        x, y = (img_w - crop_w) // 2, (img_h - crop_h) // 2
        return apply_crop(results, x, y, x + crop_w, y + crop_h, self.lazy)


def _multi_crop_frame_size(type_name: str, results: dict, crop_size: tuple[int, int]
                           ) -> tuple[int, int]:
    """(h, w) of the frames, checked to hold a crop of ``crop_size`` (w, h)."""
    init_lazy(results, type_name, False)
    img_h, img_w = as_frames(results['imgs']).shape[1:3]
    crop_w, crop_h = crop_size
    if crop_w > img_w or crop_h > img_h:
        raise ValueError(f'{type_name}: crop (w={crop_w}, h={crop_h}) exceeds frames '
                         f'(w={img_w}, h={img_h})')
    return img_h, img_w


def _multi_crop(results: dict, boxes: list[tuple[int, int]], crop_w: int, crop_h: int,
                with_flips: bool) -> dict:
    """Stack the crops at ``boxes`` (top-left corners) crop-major; with ``with_flips`` each
    crop is followed by its horizontal mirror."""
    imgs = as_frames(results['imgs'])
    crops, bboxes = [], []
    for x, y in boxes:
        crop = imgs[:, y:y + crop_h, x:x + crop_w]
        views = [crop, crop[:, :, ::-1]] if with_flips else [crop]
        crops += views
        bboxes += [[x, y, x + crop_w, y + crop_h]] * (len(imgs) * len(views))
    results['imgs'] = np.concatenate(crops)
    results['crop_bbox'] = np.array(bboxes)
    results['img_shape'] = (crop_h, crop_w)
    return results


@TRANSFORMS.register_module()
class ThreeCrop(Transform):
    """Test-time 3 crops of ``crop_size`` (w, h): the crop spans one whole side and is
    taken at the start, end and middle of the other side. Output is crop-major."""

    def __init__(self, crop_size):
        self.crop_size = tuple(int(s) for s in pair(crop_size, 'crop_size'))

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'ThreeCrop', False)
        img_h, img_w = as_frames(results['imgs']).shape[1:3]
        crop_w, crop_h = self.crop_size
        if crop_h == img_h and crop_w <= img_w:
            step = (img_w - crop_w) // 2
            boxes = [(0, 0), (2 * step, 0), (step, 0)]
        elif crop_w == img_w and crop_h <= img_h:
            step = (img_h - crop_h) // 2
            boxes = [(0, 0), (0, 2 * step), (0, step)]
        else:
            raise ValueError(f'ThreeCrop: crop (w={crop_w}, h={crop_h}) must span one whole side '
                             f'of the frames (w={img_w}, h={img_h}); resize the short side to '
                             f'the crop size first, e.g. Resize(scale=(-1, {min(crop_w, crop_h)}))')
        return _multi_crop(results, boxes, crop_w, crop_h, with_flips=False)


@TRANSFORMS.register_module()
class TenCrop(Transform):
    """Test-time 10 crops: 4 corners and the centre, each followed by its horizontal flip."""

    def __init__(self, crop_size):
        self.crop_size = tuple(int(s) for s in pair(crop_size, 'crop_size'))

    def __call__(self, results: dict) -> dict:
        img_h, img_w = _multi_crop_frame_size('TenCrop', results, self.crop_size)
        crop_w, crop_h = self.crop_size
        w_step, h_step = (img_w - crop_w) // 4, (img_h - crop_h) // 4
        boxes = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step),
                 (2 * w_step, 2 * h_step)]
        return _multi_crop(results, boxes, crop_w, crop_h, with_flips=True)


@TRANSFORMS.register_module()
class MultiGroupCrop(Transform):
    """``groups`` random crops of ``crop_size`` (w, h), each the same box for all frames,
    stacked group-major (all frames of group 1, then group 2, ...)."""

    def __init__(self, crop_size, groups: int):
        self.crop_size = tuple(int(s) for s in pair(crop_size, 'crop_size'))
        if not isinstance(groups, int) or groups <= 0:
            raise ValueError(f'MultiGroupCrop: groups must be a positive int, got {groups!r}')
        self.groups = groups

    def __call__(self, results: dict) -> dict:
        img_h, img_w = _multi_crop_frame_size('MultiGroupCrop', results, self.crop_size)
        crop_w, crop_h = self.crop_size
        boxes = [(random.randint(0, img_w - crop_w), random.randint(0, img_h - crop_h))
                 for _ in range(self.groups)]
        return _multi_crop(results, boxes, crop_w, crop_h, with_flips=False)


# element types and channel counts OpenCV's array functions take
_CV2_MAX_CHANNELS = 512
_CV2_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32,
                                          np.float32, np.float64))


def flip_frames(imgs: np.ndarray, direction: str, modality: str) -> np.ndarray:
    """Mirror (N, H, W[, C]) frames; x-flow frames (the even ones) change sign, i.e. 255 - x.

    Returns a new contiguous array (``cv2.flip`` per frame: 10x faster than copying a
    mirrored NumPy view, which later steps would have to do).
    """
    if imgs.dtype in _CV2_DTYPES and (imgs.ndim == 3 or imgs.shape[3] <= _CV2_MAX_CHANNELS):
        code = 1 if direction == 'horizontal' else 0
        out = np.empty(imgs.shape, dtype=imgs.dtype)  # C order, whatever the input's layout
        for img, flipped in zip(imgs, out):
            cv2.flip(img, code, dst=flipped)
    else:
        out = np.ascontiguousarray(imgs[:, :, ::-1] if direction == 'horizontal' else imgs[:, ::-1])
    if modality == 'Flow':
        out[0::2] = 255 - out[0::2]
    return out


@TRANSFORMS.register_module()
class Flip(Transform):
    """Flip all frames with probability ``flip_ratio`` ('horizontal' or 'vertical').

    Flow x-frames are inverted (255 - x) on a horizontal flip; keypoints are mirrored and
    ``left_kp``/``right_kp`` swapped; ``flip_label_map`` {label: new_label} relabels
    flipped samples. Sets ``flip`` and ``flip_direction``. Put it after the crops, so that
    ``crop_quadruple`` refers to the unflipped frame.
    """

    def __init__(self, flip_ratio: float = 0.5, direction: str = 'horizontal',
                 flip_label_map: dict | None = None, left_kp=None, right_kp=None,
                 lazy: bool = False):
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"Flip: direction must be 'horizontal' or 'vertical', "
                             f'got {direction!r}')
        self.flip_ratio = flip_ratio
        self.direction = direction
        # JSON/YAML configs turn int keys into strings
        self.flip_label_map = None if flip_label_map is None else \
            {int(k): int(v) for k, v in flip_label_map.items()}
        self.left_kp = left_kp
        self.right_kp = right_kp
        self.lazy = lazy

    def _flip_keypoints(self, results: dict, img_w: int) -> None:
        kp = results['keypoint'].copy()
        kp_x = kp[..., 0]
        kp_x[kp_x != 0] = img_w - kp_x[kp_x != 0]
        order = list(range(kp.shape[2]))
        if self.left_kp is not None and self.right_kp is not None:
            for left, right in zip(self.left_kp, self.right_kp):
                order[left], order[right] = right, left
        results['keypoint'] = kp[:, :, order]
        if 'keypoint_score' in results:
            results['keypoint_score'] = results['keypoint_score'][:, :, order]

    def __call__(self, results: dict) -> dict:
        init_lazy(results, 'Flip', self.lazy)
        img_h, img_w = _image_shape(results)
        modality = results.get('modality', 'RGB')
        if self.direction == 'vertical' and (modality == 'Flow' or 'keypoint' in results):
            raise ValueError('Flip: only horizontal flips are defined for Flow and keypoints')
        flip = bool(np.random.rand() < self.flip_ratio)
        results['flip'] = flip
        results['flip_direction'] = self.direction
        if self.lazy:
            results['lazy'].update(flip=flip, flip_direction=self.direction)
        if not flip:
            return results
        if self.flip_label_map is not None:
            results['label'] = self.flip_label_map.get(results['label'], results['label'])
        if 'imgs' in results and not self.lazy:
            results['imgs'] = flip_frames(as_frames(results['imgs']), self.direction, modality)
        if 'keypoint' in results:
            self._flip_keypoints(results, img_w)
        if 'gt_bboxes' in results:
            if self.direction != 'horizontal':
                raise ValueError('Flip: only horizontal flips are defined for boxes')
            for key in ('gt_bboxes', 'proposals'):
                if results.get(key) is not None:
                    box = results[key]
                    flipped = box.copy()
                    flipped[..., 0::4] = img_w - box[..., 2::4]
                    flipped[..., 2::4] = img_w - box[..., 0::4]
                    results[key] = flipped
        return results


@TRANSFORMS.register_module()
class Normalize(Transform):
    """Subtract ``mean`` and divide by ``std`` per channel, giving float32 frames.

    RGB: (N, H, W, C); ``to_bgr`` reverses the channel order first (mean/std are then in
    BGR order). Flow: the interleaved x/y frames become (N/2, H, W, 2) with 2-value
    mean/std; ``adjust_magnitude`` multiplies x/y by ``scale_factor``. Sets ``img_norm_cfg``.
    """

    def __init__(self, mean, std, to_bgr: bool = False, adjust_magnitude: bool = False):
        self.mean = np.array(mean, dtype=np.float32).reshape(-1)
        self.std = np.array(std, dtype=np.float32).reshape(-1)
        if self.mean.shape != self.std.shape:
            raise ValueError(f'Normalize: mean {self.mean.tolist()} and std {self.std.tolist()} '
                             'must have one value per channel each')
        if (self.std == 0).any():
            raise ValueError(f'Normalize: std must not contain 0, got {self.std.tolist()}')
        # MMAction2 (mmcv.imnormalize_) multiplies by the reciprocal rather than dividing
        self._std_inv = (1.0 / self.std.astype(np.float64)).astype(np.float32)
        # per channel, the normalised value of each uint8 level (same float32 arithmetic)
        levels = np.arange(256, dtype=np.float32)
        self._luts = [(levels - m) * inv for m, inv in zip(self.mean, self._std_inv)]
        self.to_bgr = to_bgr
        self.adjust_magnitude = adjust_magnitude

    def __call__(self, results: dict) -> dict:
        modality = results.get('modality', 'RGB')
        imgs = as_frames(results['imgs'])
        if modality == 'RGB':
            if imgs.shape[-1] != self.mean.size:
                raise ValueError(f'Normalize: frames have {imgs.shape[-1]} channels but mean has '
                                 f'{self.mean.size} values')
            results['imgs'] = self._normalize_rgb(imgs)
            results['img_norm_cfg'] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr)
            return results
        if modality == 'Flow':
            if self.mean.size != 2 or len(imgs) % 2:
                raise ValueError('Normalize: Flow needs 2-value mean/std and interleaved x/y '
                                 f'frames, got mean {self.mean.tolist()} and {len(imgs)} frames')
            x = (imgs[0::2].astype(np.float32) - self.mean[0]) / self.std[0]
            y = (imgs[1::2].astype(np.float32) - self.mean[1]) / self.std[1]
            if self.adjust_magnitude:
                x = x * results['scale_factor'][0]
                y = y * results['scale_factor'][1]
            results['imgs'] = np.stack([x, y], axis=-1)
            results['img_norm_cfg'] = dict(mean=self.mean, std=self.std, to_bgr=self.to_bgr,
                                           adjust_magnitude=self.adjust_magnitude)
            return results
        raise ValueError(f"Normalize: modality must be 'RGB' or 'Flow', got {modality!r}")

    def _normalize_rgb(self, imgs: np.ndarray) -> np.ndarray:
        """(N, H, W, C) frames -> float32 (N, H, W, C), ``(x - mean) / std`` per channel.

        uint8 frames go through a 256-entry table per channel (``cv2.LUT``), written
        channel-planar: the result is an (N, H, W, C) view of (N, C, H, W) memory, so that
        ``FormatShape('NCHW')`` needs no copy. 10x faster than the arithmetic, same values.
        """
        if imgs.dtype != np.uint8:
            out = np.subtract(imgs[..., ::-1] if self.to_bgr else imgs, self.mean, dtype=np.float32)
            out *= self._std_inv
            return out
        channels = range(imgs.shape[-1])
        order = channels[::-1] if self.to_bgr else channels
        out = np.empty((imgs.shape[0], imgs.shape[-1]) + imgs.shape[1:3], dtype=np.float32)
        for frame, planes in zip(imgs, out):
            sources = cv2.split(frame)
            for c, src in enumerate(order):
                cv2.LUT(sources[src], self._luts[c], dst=planes[c])
        return out.transpose(0, 2, 3, 1)


@TRANSFORMS.register_module()
class Fuse(Transform):
    """Apply the operations recorded by lazy transforms in one pass: crop the frames to
    ``lazy['crop_bbox']`` (rounded), resize them to ``img_shape`` (with the last lazy
    Resize's interpolation, bilinear when none ran) and flip. Removes ``lazy``.

    Unlike MMAction2's Fuse, a lazy horizontal flip of Flow also inverts the x-flow frames,
    so lazy and eager pipelines give the same frames.
    """

    def __call__(self, results: dict) -> dict:
        if 'lazy' not in results:
            raise ValueError('Fuse: no lazy operations to apply; set lazy=True on the '
                             'transforms before Fuse, or remove Fuse')
        lazy = results.pop('lazy')
        imgs = as_frames(results['imgs'])
        left, top, right, bottom = np.round(lazy['crop_bbox']).astype(int)
        imgs = imgs[:, top:bottom, left:right]
        img_h, img_w = results['img_shape']
        if imgs.shape[1:3] != (img_h, img_w):
            imgs = resize_frames(imgs, (img_w, img_h), lazy['interpolation'] or 'bilinear')
        if lazy['flip']:
            imgs = flip_frames(imgs, lazy['flip_direction'], results.get('modality', 'RGB'))
        results['imgs'] = imgs
        return results


def _value_range(type_name: str, name: str, value, max_dev: float, base: float
                 ) -> tuple[float, float]:
    """A jitter range: ``value`` v gives (base - v, base + v); a pair is taken as is. Both
    must lie within base +- max_dev."""
    if isinstance(value, (int, float)):
        low, high = base - value, base + value
    else:
        low, high = (float(v) for v in pair(value, f'{type_name}: {name}'))
    if not base - max_dev <= low <= high <= base + max_dev:
        raise ValueError(f'{type_name}: {name} must give a range within '
                         f'[{base - max_dev}, {base + max_dev}], got {value!r}')
    return float(low), float(high)


@TRANSFORMS.register_module()
class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue, the same for every frame of a sample.

    Factors are drawn uniformly from (1 - x, 1 + x) for brightness/contrast/saturation and
    from (-hue, hue) for the hue shift (a pair gives the range directly). The four
    adjustments run in an order drawn once, when the transform is built (as MMAction2
    does). Contrast blends with the mean grey level of each frame, saturation with the
    grey image (ITU-R 601 weights); hue shifts the OpenCV hue channel. Output is uint8.
    """

    def __init__(self, brightness=0.5, contrast=0.5, saturation=0.5, hue=0.1):
        self.brightness = _value_range('ColorJitter', 'brightness', brightness, 1, 1)
        self.contrast = _value_range('ColorJitter', 'contrast', contrast, 1, 1)
        self.saturation = _value_range('ColorJitter', 'saturation', saturation, 1, 1)
        self.hue = _value_range('ColorJitter', 'hue', hue, 0.5, 0)
        self.fn_idx = np.random.permutation(4)

    @staticmethod
    def _gray(imgs: np.ndarray) -> np.ndarray:
        return 0.2989 * imgs[..., 0] + 0.587 * imgs[..., 1] + 0.114 * imgs[..., 2]

    @staticmethod
    def _shift_hue(imgs: np.ndarray, factor: float) -> np.ndarray:
        offset = int(factor * 255)
        out = np.empty(imgs.shape, dtype=imgs.dtype)  # C order, whatever the input's layout
        for i, img in enumerate(np.clip(imgs, 0, 255).astype(np.uint8)):
            hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
            # OpenCV's 8-bit hue runs over 0..179
            hsv[..., 0] = (hsv[..., 0].astype(np.int16) + offset) % 180
            out[i] = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        return out

    def __call__(self, results: dict) -> dict:
        imgs = as_frames(results['imgs']).astype(np.float32)
        if imgs.ndim != 4 or imgs.shape[-1] != 3:
            raise ValueError(f'ColorJitter needs RGB frames (N, H, W, 3), got {imgs.shape}')
        b = np.random.uniform(*self.brightness)
        c = np.random.uniform(*self.contrast)
        s = np.random.uniform(*self.saturation)
        h = np.random.uniform(*self.hue)
        for fn_id in self.fn_idx:
            if fn_id == 0 and b != 1:
                imgs *= b
            elif fn_id == 1 and c != 1:
                mean = self._gray(imgs).mean(axis=(1, 2))[:, None, None, None]
                imgs = c * imgs + (1 - c) * mean
            elif fn_id == 2 and s != 1:
                imgs = s * imgs + (1 - s) * self._gray(imgs)[..., None]
            elif fn_id == 3 and h != 0:
                imgs = self._shift_hue(imgs, h)
        results['imgs'] = np.clip(imgs, 0, 255).astype(np.uint8)
        return results


def _import_optional(module: str, type_name: str, package: str, why: str = ''):
    """Import ``module`` for ``type_name``, or raise ImportError naming the package."""
    try:
        return importlib.import_module(module)
    except Exception as e:  # e.g. imgaug fails with AttributeError under NumPy 2
        raise ImportError(f'{type_name} needs the {package!r} package, which cannot be '
                          f'imported here ({type(e).__name__}: {e}).{why}') from None


@TRANSFORMS.register_module()
class Imgaug(Transform):
    """Frames augmented by the ``imgaug`` library, one deterministic augmenter per sample.

    ``transforms``: ``'default'`` (RandAugment-like, :meth:`default_transforms`), a list
    of dicts whose ``type`` is an imgaug augmenter name (``iaa`` or ``iaa.pillike``) or
    class, or an ``iaa.Augmenter``. RGB uint8 frames only. Unlike MMAction2, boxes and
    proposals are not moved with the frames: a sample with ``gt_bboxes`` (spatio-temporal
    detection) raises ValueError instead.

    imgaug 0.4 cannot be imported with NumPy 2 (it uses ``np.sctypes``), so with NumPy 2
    building this transform raises an ImportError; ``ColorJitter`` and the geometric
    transforms cover the common augmentations without it.
    """

    def __init__(self, transforms):
        self.iaa = _import_optional(
            'imgaug.augmenters', 'Imgaug', 'imgaug',
            ' imgaug 0.4 does not support NumPy 2; use NumPy < 2 with "pip install imgaug", '
            'or ColorJitter/Flip/RandomResizedCrop instead.')
        if isinstance(transforms, self.iaa.Augmenter):
            self.transforms = transforms
            self.aug = transforms
            return
        if transforms == 'default':
            transforms = self.default_transforms()
        if not isinstance(transforms, list) or not all(isinstance(t, dict) for t in transforms):
            raise ValueError(f"Imgaug: transforms must be 'default', a list of dicts or an "
                             f'imgaug Augmenter, got {transforms!r}')
        self.transforms = transforms
        self.aug = self.iaa.Sequential([self.imgaug_builder(t) for t in transforms])

    @staticmethod
    def default_transforms() -> list[dict]:
        """RandAugment (two of 14 operations at magnitude 9/10) as imgaug configs, with
        MMAction2's operations and magnitudes; the signs are drawn once, here."""
        level = 9 / 10
        return [dict(type='SomeOf', n=2, children=[
            dict(type='ShearX', shear=17.19 * level * random.choice([-1, 1])),
            dict(type='ShearY', shear=17.19 * level * random.choice([-1, 1])),
            dict(type='TranslateX', percent=.2 * level * random.choice([-1, 1])),
            dict(type='TranslateY', percent=.2 * level * random.choice([-1, 1])),
            dict(type='Rotate', rotate=30 * level * random.choice([-1, 1])),
            dict(type='Posterize', nb_bits=max(1, int(4 * level))),
            dict(type='Solarize', threshold=256 * level),
            dict(type='EnhanceColor', factor=1.8 * level + .1),
            dict(type='EnhanceContrast', factor=1.8 * level + .1),
            dict(type='EnhanceBrightness', factor=1.8 * level + .1),
            dict(type='EnhanceSharpness', factor=1.8 * level + .1),
            dict(type='Autocontrast', cutoff=0),
            dict(type='Equalize'),
            dict(type='Invert', p=1.),
            dict(type='Cutout', nb_iterations=1, size=0.2 * level, squared=True),
        ])]

    def imgaug_builder(self, cfg: dict):
        """An imgaug augmenter from ``cfg`` (``type`` plus its arguments; the config
        dicts in ``children``, ``then_list`` and ``else_list`` are built recursively, as in
        MMAction2)."""
        args = dict(cfg)
        kind = args.pop('type', None)
        if isinstance(kind, str):
            cls = getattr(self.iaa, kind, None) or getattr(self.iaa.pillike, kind, None)
            if cls is None:
                raise ValueError(f'Imgaug: imgaug has no augmenter named {kind!r}')
        elif isinstance(kind, type) and issubclass(kind, self.iaa.Augmenter):
            cls = kind
        else:
            raise TypeError(f'Imgaug: "type" must be an augmenter name or class, got {kind!r}')
        for key in ('children', 'then_list', 'else_list'):
            if isinstance(args.get(key), (list, tuple)):
                args[key] = [self.imgaug_builder(child) if isinstance(child, dict) else child
                             for child in args[key]]
        return cls(**args)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(transforms={self.aug})'

    def __call__(self, results: dict) -> dict:
        if results.get('modality', 'RGB') != 'RGB':
            raise ValueError(f'Imgaug only supports RGB frames, got {results["modality"]!r}')
        if 'gt_bboxes' in results:
            raise ValueError('Imgaug cannot move gt_bboxes/proposals; apply it to '
                             'recognition pipelines only')
        aug = self.aug.to_deterministic()
        imgs = as_frames(results['imgs'])
        out = np.stack([aug.augment_image(frame) for frame in imgs])
        if out.dtype != imgs.dtype:
            raise TypeError(f'Imgaug: the augmenters turned {imgs.dtype} frames into {out.dtype}')
        results['imgs'] = out
        results['img_shape'] = out.shape[1:3]
        return results


def _clip_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0, 255).astype(np.uint8)


@TRANSFORMS.register_module()
class TorchvisionTrans(Transform):
    """``torchvision.transforms.<type>(**kwargs)`` applied to the clip as one uint8 tensor
    (N, C, H, W); the output is clipped back to uint8 (N, H, W, C). Configs write it as
    ``dict(type='torchvision.<type>', **kwargs)`` (see Compose). Needs torchvision,
    which ActionLab does not depend on: without it, building this transform raises an
    ImportError naming the package."""

    def __init__(self, type: str, **kwargs):  # noqa: A002 - MMAction2's argument name
        module = _import_optional('torchvision.transforms', 'TorchvisionTrans', 'torchvision')
        cls = getattr(module, type, None)
        if cls is None:
            raise ValueError(f'TorchvisionTrans: torchvision.transforms has no {type!r}')
        self.type = type
        self.kwargs = kwargs
        self.trans = cls(**kwargs)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(type={self.type!r}, **{self.kwargs!r})'

    def __call__(self, results: dict) -> dict:
        imgs = torch.from_numpy(np.ascontiguousarray(as_frames(results['imgs']).transpose(0, 3, 1, 2)))
        out = np.asarray(self.trans(imgs))
        results['imgs'] = _clip_uint8(out).transpose(0, 2, 3, 1)
        results['img_shape'] = results['imgs'].shape[1:3]
        return results


@TRANSFORMS.register_module()
class PytorchVideoTrans(Transform):
    """``pytorchvideo.transforms.<type>(**kwargs)`` for the types MMAction2 supports:
    AugMix and RandAugment get the clip as uint8 (T, C, H, W); RandomResizedCrop,
    ShortSideScale and RandomShortSideScale get float (C, T, H, W) in [0, 1]. Configs write
    it as ``dict(type='pytorchvideo.<type>', **kwargs)`` (see Compose). Needs pytorchvideo:
    without it, building this transform raises an ImportError naming it."""

    SUPPORTED = ('AugMix', 'RandAugment', 'RandomResizedCrop', 'ShortSideScale',
                 'RandomShortSideScale')

    def __init__(self, type: str, **kwargs):  # noqa: A002 - MMAction2's argument name
        if type not in self.SUPPORTED:
            raise ValueError(f'PytorchVideoTrans: type must be one of {", ".join(self.SUPPORTED)}, '
                             f'got {type!r}')
        module = _import_optional('pytorchvideo.transforms', 'PytorchVideoTrans', 'pytorchvideo')
        self.type = type
        self.kwargs = kwargs
        self.trans = getattr(module, type)(**kwargs)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(type={self.type!r}, **{self.kwargs!r})'

    def __call__(self, results: dict) -> dict:
        if 'gt_bboxes' in results or 'proposals' in results:
            raise ValueError(f'PytorchVideoTrans({self.type}) cannot move boxes')
        imgs = as_frames(results['imgs'])
        if self.type in ('AugMix', 'RandAugment'):
            out = np.asarray(self.trans(torch.from_numpy(
                np.ascontiguousarray(imgs.transpose(0, 3, 1, 2)))))
            imgs = _clip_uint8(out).transpose(0, 2, 3, 1)
        else:
            clip = torch.from_numpy(imgs.transpose(3, 0, 1, 2) / np.float32(255))
            imgs = _clip_uint8(np.asarray(self.trans(clip)) * 255).transpose(1, 2, 3, 0)
        results['imgs'] = imgs
        results['img_shape'] = imgs.shape[1:3]
        return results

"""Skeleton transforms (ST-GCN, 2s-AGCN, PoseC3D): select the sampled frames of the pose
arrays, load Kinetics pose pickles, crop to the people, draw pseudo heatmaps, normalise,
joints -> bones, and the GCN input layout.

Keypoints are ``keypoint`` (M persons, T frames, V joints, C coordinates) float arrays
with an optional ``keypoint_score`` (M, T, V); a coordinate of exactly 0 marks a missing
joint (as in MMAction2), which crops and flips leave at 0.

PoseC3D pseudo-heatmaps are described in "Revisiting Skeleton-based Action Recognition"
(Duan et al., CVPR 2022).
"""
from __future__ import annotations

import copy
import os

import numpy as np

from actionlab.data.io import load_pickle

from .augment import Flip
from .base import TRANSFORMS, Transform, pair
from .decoding import _check_io_backend

COCO_SKELETON = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8),
                 (8, 10), (5, 11), (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
COCO_LEFT_KP = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT_KP = (2, 4, 6, 8, 10, 12, 14, 16)


@TRANSFORMS.register_module()
class PoseDecode(Transform):
    """Keep the frames ``frame_inds`` (+ ``offset``; all frames when there are no
    ``frame_inds``) of ``keypoint`` and ``keypoint_score``, as float32."""

    def __call__(self, results: dict) -> dict:
        if 'frame_inds' not in results:
            results['frame_inds'] = np.arange(results['total_frames'])
        frame_inds = np.asarray(results['frame_inds']).reshape(-1)
        results['frame_inds'] = frame_inds
        frame_inds = frame_inds + results.get('offset', 0)
        for key in ('keypoint', 'keypoint_score'):
            if key in results:
                results[key] = results[key][:, frame_inds].astype(np.float32)
        return results


@TRANSFORMS.register_module()
class LoadKineticsPose(Transform):
    """Load the pose pickle ``filename`` of a Kinetics-skeleton sample: an array of
    detections (N, V, 3) = x, y, score, with ``frame_inds`` (N,) telling each detection's
    frame (``anno_inds`` selects detections, e.g. by box score). Builds ``keypoint``
    (M, T, V, 2) and ``keypoint_score`` (M, T, V) as float16, M = most persons in a frame,
    capped at ``max_person`` by keeping the persons of highest weighted score (face, torso
    and limb joints weighted by ``keypoint_weight``). ``squeeze`` drops frames without
    detections; ``source='openpose-18'`` coordinates are normalised and get scaled by
    ``img_shape``. Sets ``num_person`` and ``total_frames``; removes ``filename``,
    ``frame_inds``, ``anno_inds`` and ``box_score``.
    """

    JOINT_GROUPS = {
        'mmpose': dict(face=[0, 1, 2, 3, 4], torso=[5, 6, 11, 12],
                       limb=[7, 8, 9, 10, 13, 14, 15, 16]),
        'openpose-18': dict(face=[0, 14, 15, 16, 17], torso=[1, 2, 8, 5, 11],
                            limb=[3, 4, 6, 7, 9, 10, 12, 13]),
    }

    def __init__(self, io_backend: str = 'disk', squeeze: bool = True, max_person: int = 100,
                 keypoint_weight=None, source: str = 'mmpose', **kwargs):
        _check_io_backend('LoadKineticsPose', io_backend, kwargs)
        if source not in self.JOINT_GROUPS:
            raise ValueError(f'LoadKineticsPose: source must be one of '
                             f'{", ".join(self.JOINT_GROUPS)}, got {source!r}')
        self.io_backend = io_backend
        self.squeeze = squeeze
        self.max_person = int(max_person)
        self.keypoint_weight = dict(face=1, torso=2, limb=3) if keypoint_weight is None \
            else dict(keypoint_weight)
        self.source = source

    def _read(self, filename: str) -> np.ndarray:
        kps = np.asarray(load_pickle(filename, 'pose'), dtype=np.float32)
        if kps.ndim != 3 or kps.shape[-1] != 3:
            raise ValueError(f'{filename}: expected detections of shape (N, V, 3), '
                             f'got {kps.shape}')
        return kps

    def __call__(self, results: dict) -> dict:
        filename = os.fspath(results.pop('filename'))
        anno_inds = results.pop('anno_inds', None)
        results.pop('box_score', None)
        kps = self._read(filename)
        frame_inds = np.asarray(results.pop('frame_inds')).astype(np.int64)
        if anno_inds is not None:
            if self.source != 'mmpose':
                raise ValueError('LoadKineticsPose: anno_inds only applies to source="mmpose"')
            kps, frame_inds = kps[anno_inds], frame_inds[anno_inds]
        total_frames = int(results['total_frames'])
        if self.squeeze:
            frame_inds = np.unique(frame_inds, return_inverse=True)[1].reshape(-1)
            total_frames = int(frame_inds.max()) + 1
        results['total_frames'] = total_frames
        if self.source == 'openpose-18':
            h, w = results['img_shape']
            kps[:, :, 0] *= w
            kps[:, :, 1] *= h

        num_person = int(np.bincount(frame_inds).max())
        num_kp = kps.shape[1]
        keypoint = np.zeros((num_person, total_frames, num_kp, 2), dtype=np.float16)
        score = np.zeros((num_person, total_frames, num_kp), dtype=np.float16)
        persons_in_frame = np.zeros(total_frames, dtype=np.int64)
        for frame, kp in zip(frame_inds, kps):
            person = persons_in_frame[frame]
            keypoint[person, frame] = kp[:, :2]
            score[person, frame] = kp[:, 2]
            persons_in_frame[frame] += 1

        results['num_person'] = num_person
        if num_person > self.max_person:
            groups, weight = self.JOINT_GROUPS[self.source], self.keypoint_weight
            for frame in range(total_frames):
                count = persons_in_frame[frame]
                frame_scores = score[:count, frame]
                person_score = sum(np.sum(frame_scores[:, groups[g]], axis=1) * weight[g]
                                   for g in ('face', 'torso', 'limb'))
                order = sorted(range(count), key=lambda i: -person_score[i])
                score[:count, frame] = score[order, frame]
                keypoint[:count, frame] = keypoint[order, frame]
            results['num_person'] = self.max_person
        results['keypoint'] = keypoint[:self.max_person]
        results['keypoint_score'] = score[:self.max_person]
        return results


@TRANSFORMS.register_module()
class PoseCompact(Transform):
    """Crop the keypoint coordinates to the people: the tight box around all non-zero
    joints of all frames, enlarged by ``padding`` (0.25 = 1.25x width and height) around
    its centre and, with ``hw_ratio`` (a number or (min, max) h/w), widened to that
    ratio. With ``allow_imgpad=False`` the box stays inside the frame. Boxes smaller than
    ``threshold`` px are left alone. Updates ``keypoint``, ``img_shape`` and
    ``crop_quadruple``."""

    def __init__(self, padding: float = 0.25, threshold: int = 10, hw_ratio=None,
                 allow_imgpad: bool = True):
        if padding < 0:
            raise ValueError(f'PoseCompact: padding must be >= 0, got {padding}')
        self.padding = padding
        self.threshold = threshold
        self.hw_ratio = None if hw_ratio is None else \
            tuple(float(r) for r in pair(hw_ratio, 'PoseCompact: hw_ratio'))
        self.allow_imgpad = allow_imgpad

    def __call__(self, results: dict) -> dict:
        h, w = results['img_shape']
        kp = results['keypoint']
        kp[np.isnan(kp)] = 0.
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        min_x = np.min(kp_x[kp_x != 0], initial=np.inf)
        min_y = np.min(kp_y[kp_y != 0], initial=np.inf)
        max_x = np.max(kp_x[kp_x != 0], initial=-np.inf)
        max_y = np.max(kp_y[kp_y != 0], initial=-np.inf)
        if max_x - min_x < self.threshold or max_y - min_y < self.threshold:
            return results

        center = ((max_x + min_x) / 2, (max_y + min_y) / 2)
        half_w = (max_x - min_x) / 2 * (1 + self.padding)
        half_h = (max_y - min_y) / 2 * (1 + self.padding)
        if self.hw_ratio is not None:
            half_h = max(self.hw_ratio[0] * half_w, half_h)
            half_w = max(1 / self.hw_ratio[1] * half_h, half_w)
        min_x, max_x = center[0] - half_w, center[0] + half_w
        min_y, max_y = center[1] - half_h, center[1] + half_h
        if self.allow_imgpad:
            min_x, min_y, max_x, max_y = int(min_x), int(min_y), int(max_x), int(max_y)
        else:
            min_x, min_y = int(max(0, min_x)), int(max(0, min_y))
            max_x, max_y = int(min(w, max_x)), int(min(h, max_y))

        kp_x[kp_x != 0] -= min_x
        kp_y[kp_y != 0] -= min_y
        results['img_shape'] = (max_y - min_y, max_x - min_x)
        old_x, old_y, old_w, old_h = results.get('crop_quadruple', (0., 0., 1., 1.))
        new_x, new_y, new_w, new_h = min_x / w, min_y / h, (max_x - min_x) / w, (max_y - min_y) / h
        results['crop_quadruple'] = np.array([old_x + old_w * new_x, old_y + old_h * new_y,
                                              old_w * new_w, old_h * new_h], dtype=np.float32)
        return results


@TRANSFORMS.register_module()
class GeneratePoseTarget(Transform):
    """PoseC3D pseudo-heatmaps: ``imgs`` (T, H, W, K) float32 at ``img_shape``, one channel
    per keypoint (``with_kp``; a Gaussian of ``sigma`` px at each person's joint) and/or
    per limb of ``skeletons`` (``with_limb``; a Gaussian of the distance to the segment),
    taking the maximum over persons. The peak is the joint's score with ``use_score``
    (the smaller of the two end scores for limbs), else 1; joints scoring below 1e-4 are
    skipped. ``double`` appends the heatmaps of the horizontally flipped pose
    (``left_kp``/``right_kp`` swapped), giving 2T frames."""

    eps = 1e-4

    def __init__(self, sigma: float = 0.6, use_score: bool = True, with_kp: bool = True,
                 with_limb: bool = False, skeletons=COCO_SKELETON, double: bool = False,
                 left_kp=COCO_LEFT_KP, right_kp=COCO_RIGHT_KP):
        if not (with_kp or with_limb):
            raise ValueError('GeneratePoseTarget: at least one of with_kp and with_limb '
                             'must be True')
        self.sigma = sigma
        self.use_score = use_score
        self.with_kp = with_kp
        self.with_limb = with_limb
        self.skeletons = tuple(tuple(limb) for limb in skeletons)
        self.double = double
        self.left_kp = tuple(left_kp)
        self.right_kp = tuple(right_kp)

    def generate_a_heatmap(self, img_h: int, img_w: int, centers, sigma: float,
                           max_values) -> np.ndarray:
        """(img_h, img_w) map: the maximum of a Gaussian at each of ``centers`` (persons'
        (x, y) of one joint), scaled by ``max_values``, drawn within 3 sigma."""
        heatmap = np.zeros((img_h, img_w), dtype=np.float32)
        for (mu_x, mu_y), max_value in zip(centers, max_values):
            if max_value < self.eps:
                continue
            st_x, ed_x = max(int(mu_x - 3 * sigma), 0), min(int(mu_x + 3 * sigma) + 1, img_w)
            st_y, ed_y = max(int(mu_y - 3 * sigma), 0), min(int(mu_y + 3 * sigma) + 1, img_h)
            x = np.arange(st_x, ed_x, 1, np.float32)
            y = np.arange(st_y, ed_y, 1, np.float32)[:, None]
            if not (len(x) and len(y)):
                continue  # the joint is outside the map
            patch = np.exp(-((x - mu_x) ** 2 + (y - mu_y) ** 2) / 2 / sigma ** 2) * max_value
            heatmap[st_y:ed_y, st_x:ed_x] = np.maximum(heatmap[st_y:ed_y, st_x:ed_x], patch)
        return heatmap

    def generate_a_limb_heatmap(self, img_h: int, img_w: int, starts, ends, sigma: float,
                                start_values, end_values) -> np.ndarray:
        """(img_h, img_w) map: for each person's limb from ``starts`` to ``ends``, a
        Gaussian of the distance to the segment, scaled by the smaller end value."""
        heatmap = np.zeros((img_h, img_w), dtype=np.float32)
        for start, end, start_value, end_value in zip(starts, ends, start_values, end_values):
            value = min(start_value, end_value)
            if value < self.eps:
                continue
            min_x = max(int(min(start[0], end[0]) - 3 * sigma), 0)
            max_x = min(int(max(start[0], end[0]) + 3 * sigma) + 1, img_w)
            min_y = max(int(min(start[1], end[1]) - 3 * sigma), 0)
            max_y = min(int(max(start[1], end[1]) + 3 * sigma) + 1, img_h)
            x = np.arange(min_x, max_x, 1, np.float32)
            y = np.arange(min_y, max_y, 1, np.float32)[:, None]
            if not (len(x) and len(y)):
                continue
            d2_start = (x - start[0]) ** 2 + (y - start[1]) ** 2
            d2_end = (x - end[0]) ** 2 + (y - end[1]) ** 2
            d2_ab = (start[0] - end[0]) ** 2 + (start[1] - end[1]) ** 2
            if d2_ab < 1:  # a degenerate limb is drawn as a joint
                heatmap = np.maximum(heatmap, self.generate_a_heatmap(
                    img_h, img_w, [start], sigma, [start_value]))
                continue
            # position of the foot of the perpendicular along the limb, 0 at start, 1 at end
            coeff = (d2_start - d2_end + d2_ab) / 2. / d2_ab
            px = x - (start[0] + coeff * (end[0] - start[0]))
            py = y - (start[1] + coeff * (end[1] - start[1]))
            d2_seg = np.where(coeff <= 0, d2_start, np.where(coeff >= 1, d2_end, px ** 2 + py ** 2))
            patch = np.exp(-d2_seg / 2. / sigma ** 2) * value
            heatmap[min_y:max_y, min_x:max_x] = np.maximum(heatmap[min_y:max_y, min_x:max_x],
                                                           patch)
        return heatmap

    def generate_heatmap(self, img_h: int, img_w: int, kps, sigma: float,
                         max_values) -> np.ndarray:
        """(img_h, img_w, channels) maps of one frame: keypoints (M, V, 2) of all persons
        with their ``max_values`` (M, V)."""
        heatmaps = []
        if self.with_kp:
            heatmaps += [self.generate_a_heatmap(img_h, img_w, kps[:, i], sigma,
                                                 max_values[:, i]) for i in range(kps.shape[1])]
        if self.with_limb:
            heatmaps += [self.generate_a_limb_heatmap(img_h, img_w, kps[:, a], kps[:, b], sigma,
                                                      max_values[:, a], max_values[:, b])
                         for a, b in self.skeletons]
        return np.stack(heatmaps, axis=-1)

    def gen_an_aug(self, results: dict) -> np.ndarray:
        """Heatmaps of every frame: (T, H, W, channels)."""
        kps = results['keypoint']
        scores = results.get('keypoint_score')
        if scores is None or not self.use_score:
            scores = np.ones(kps.shape[:-1], dtype=np.float32)
        img_h, img_w = results['img_shape']
        return np.stack([self.generate_heatmap(img_h, img_w, kps[:, t], self.sigma, scores[:, t])
                         for t in range(kps.shape[1])])

    def __call__(self, results: dict) -> dict:
        heatmaps = self.gen_an_aug(results)
        if self.double:
            flipped = Flip(flip_ratio=1, left_kp=self.left_kp,
                           right_kp=self.right_kp)(copy.deepcopy(results))
            heatmaps = np.concatenate([heatmaps, self.gen_an_aug(flipped)])
        results['imgs'] = heatmaps
        return results


@TRANSFORMS.register_module()
class PoseNormalize(Transform):
    """``keypoint`` in the GCN layout (C, T, V, M) -> (keypoint - mean) / (max - min) per
    coordinate, roughly [-1, 1] for 1920 x 1080 videos; sets ``keypoint_norm_cfg``."""

    def __init__(self, mean=(960., 540., 0.5), min_value=(0., 0., 0.), max_value=(1920, 1080, 1.)):
        self.mean = np.array(mean, dtype=np.float32)
        self.min_value = np.array(min_value, dtype=np.float32)
        self.max_value = np.array(max_value, dtype=np.float32)

    def __call__(self, results: dict) -> dict:
        keypoint = results['keypoint']
        if keypoint.shape[0] != len(self.mean):
            raise ValueError(f'PoseNormalize: keypoint has {keypoint.shape[0]} coordinates '
                             f'(C of C x T x V x M) but mean has {len(self.mean)}; use it '
                             'after FormatGCNInput')
        mean, min_value, max_value = (v.reshape(-1, 1, 1, 1) for v in
                                      (self.mean, self.min_value, self.max_value))
        results['keypoint'] = (keypoint - mean) / (max_value - min_value)
        results['keypoint_norm_cfg'] = dict(mean=mean, min_value=min_value, max_value=max_value)
        return results


# (joint, parent) pairs: a bone is the vector from the parent joint to the joint
_BONE_PAIRS = {
    'nturgb+d': ((0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20),
                 (9, 8), (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0),
                 (17, 16), (18, 17), (19, 18), (21, 22), (20, 20), (22, 7), (23, 24), (24, 11)),
    'openpose-18': ((0, 0), (1, 0), (2, 1), (3, 2), (4, 3), (5, 1), (6, 5), (7, 6), (8, 2),
                    (9, 8), (10, 9), (11, 5), (12, 11), (13, 12), (14, 0), (15, 0), (16, 14),
                    (17, 15)),
    'coco': ((0, 0), (1, 0), (2, 0), (3, 1), (4, 2), (5, 0), (6, 0), (7, 5), (8, 6), (9, 7),
             (10, 8), (11, 0), (12, 0), (13, 11), (14, 12), (15, 13), (16, 14)),
}
_BONE_PAIRS['openpose'] = _BONE_PAIRS['openpose-18']  # the name used by earlier MMAction2 0.x


@TRANSFORMS.register_module()
class JointToBone(Transform):
    """Joints -> bones (joint minus its parent) of the ``dataset`` skeleton ('nturgb+d',
    'openpose-18', 'coco'), ``keypoint`` (M, T, V, C) with C = 2 or 3. For the 2-D
    skeletons with a score channel (C = 3), a bone's score is the mean of its two
    joints' scores."""

    def __init__(self, dataset: str = 'nturgb+d'):
        if dataset not in _BONE_PAIRS:
            raise ValueError(f'JointToBone: dataset must be one of {", ".join(_BONE_PAIRS)}, '
                             f'got {dataset!r}')
        self.dataset = dataset

    def __call__(self, results: dict) -> dict:
        keypoint = results['keypoint']
        if keypoint.ndim != 4 or keypoint.shape[-1] not in (2, 3):
            raise ValueError(f'JointToBone needs keypoint (M, T, V, 2 or 3), got {keypoint.shape}')
        joints, parents = (np.array(p) for p in zip(*_BONE_PAIRS[self.dataset]))
        bone = np.zeros(keypoint.shape, dtype=np.float32)
        bone[..., joints, :] = keypoint[..., joints, :] - keypoint[..., parents, :]
        if keypoint.shape[-1] == 3 and self.dataset != 'nturgb+d':
            bone[..., joints, 2] = (keypoint[..., joints, 2] + keypoint[..., parents, 2]) / 2
        results['keypoint'] = bone
        return results


@TRANSFORMS.register_module()
class FormatGCNInput(Transform):
    """``keypoint`` (M, T, V, C) plus ``keypoint_score`` as an extra channel ->
    (C', T, V, num_person) for ``input_format='NCTVM'``, zero-padding or dropping persons
    to ``num_person``; sets ``input_shape``."""

    def __init__(self, input_format: str, num_person: int = 2):
        if input_format != 'NCTVM':
            raise ValueError(f"FormatGCNInput: input_format must be 'NCTVM', got {input_format!r}")
        self.input_format = input_format
        self.num_person = int(num_person)

    def __call__(self, results: dict) -> dict:
        keypoint = results['keypoint']
        if 'keypoint_score' in results:
            keypoint = np.concatenate([keypoint, results['keypoint_score'][..., None]], axis=-1)
        keypoint = keypoint.transpose(3, 1, 2, 0)  # M T V C -> C T V M
        missing = self.num_person - keypoint.shape[-1]
        if missing > 0:
            keypoint = np.concatenate(
                [keypoint, np.zeros(keypoint.shape[:-1] + (missing,), dtype=keypoint.dtype)], -1)
        results['keypoint'] = keypoint[..., :self.num_person]
        results['input_shape'] = results['keypoint'].shape
        return results

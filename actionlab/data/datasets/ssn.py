"""SSNDataset: proposal-based temporal action detection with Structured Segment Networks
("Temporal Action Detection with Structured Segment Networks", Zhao et al., ICCV 2017)."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping

import numpy as np

from actionlab.data.transforms.base import pair
from actionlab.data.transforms.sampling import proposal_stages, proposal_test_offsets
from actionlab.evaluation import pairwise_temporal_iou, softmax

from .base import BaseDataset
from .builder import DATASETS

logger = logging.getLogger(__name__)

#: proposal types of the training samples, by their index in ``proposal_type``
POOL_KINDS = ('positive', 'incomplete', 'background')
#: the assigner thresholds that decide which proposals go into each pool
POOL_THRESHOLDS = (('positive_iou_threshold',),
                   ('incomplete_iou_threshold', 'incomplete_overlap_threshold'),
                   ('background_iou_threshold', 'background_coverage_threshold'))


def _segments(instances: list) -> np.ndarray:
    """(n, 2) [start_frame, end_frame] of SSN instances."""
    return np.array([[i.start_frame, i.end_frame] for i in instances],
                    dtype=np.float64).reshape(-1, 2)


def load_localize_proposal_file(filename: str | os.PathLike) -> list[tuple]:
    """Parse a "standard" SSN proposal file into ``(video_id, num_frames, gts, proposals)``
    tuples (``gts``: [label, start, end] string lists; ``proposals``: [label, best_iou,
    overlap_self, start, end]). Each video block reads::

        # index
        video_id
        num_frames
        fps            (num_frames * fps is the frame count, as in MMAction2; 1 for frames)
        num_gts
        label start_frame end_frame       (num_gts lines)
        num_proposals
        label best_iou overlap_self start_frame end_frame   (num_proposals lines)
    """
    try:
        with open(filename) as f:
            lines = [line.strip() for line in f]
    except FileNotFoundError:
        raise FileNotFoundError(f'proposal file not found: {filename}') from None
    blocks, block = [], None
    for line in lines:
        if line.startswith('#'):
            block = []
            blocks.append(block)
        elif block is not None:
            block.append(line)
    videos = []
    for index, block in enumerate(blocks):
        try:
            num_frames = int(float(block[1]) * float(block[2]))
            num_gts = int(block[3])
            gts = [row.split() for row in block[4:4 + num_gts]]
            num_proposals = int(block[4 + num_gts])
            proposals = [row.split() for row in block[5 + num_gts:5 + num_gts + num_proposals]]
        except (IndexError, ValueError):
            raise ValueError(f'{filename}: video block {index} is malformed; expected id, frames, '
                             'fps, #gts, gts, #proposals, proposals') from None
        if len(gts) != num_gts or len(proposals) != num_proposals:
            raise ValueError(f'{filename}: video block {index} ({block[0]}) is truncated')
        videos.append((block[0], num_frames, gts, proposals))
    return videos


class SSNInstance:
    """A ground truth or proposal [start_frame, end_frame) of a video of
    ``num_video_frames`` frames, with its ``label`` (-1 if none), ``best_iou`` with the
    ground truths, ``overlap_self`` (share of it inside a ground truth) and ``coverage``
    (share of the video). Positives get ``regression_targets``: the centre shift and the
    log size ratio to their best-matching ground truth."""

    def __init__(self, start_frame: int, end_frame: int, num_video_frames: int,
                 label: int | None = None, best_iou: float = 0, overlap_self: float = 0):
        self.start_frame = start_frame
        self.end_frame = min(end_frame, num_video_frames)
        self.num_video_frames = num_video_frames
        self.label = label if label is not None else -1
        self.coverage = (end_frame - start_frame) / num_video_frames
        self.best_iou = best_iou
        self.overlap_self = overlap_self
        self.loc_reg = None
        self.size_reg = None
        self.regression_targets = [0., 0.]

    def compute_regression_targets(self, gt_list: list[SSNInstance]) -> None:
        """Targets relative to the ground truth of highest IoU."""
        ious = pairwise_temporal_iou([self.start_frame, self.end_frame], _segments(gt_list))
        self._regress_to(gt_list[int(np.argmax(ious))])

    def _regress_to(self, best: SSNInstance) -> None:
        size = self.end_frame - self.start_frame
        gt_size = best.end_frame - best.start_frame
        self.loc_reg = ((best.start_frame + best.end_frame - 1) / 2
                        - (self.start_frame + self.end_frame - 1) / 2) / size
        self.size_reg = float(np.log(gt_size / size))
        self.regression_targets = [self.loc_reg, self.size_reg]

    def __repr__(self) -> str:
        return (f'SSNInstance([{self.start_frame}, {self.end_frame}) of {self.num_video_frames}, '
                f'label={self.label}, best_iou={self.best_iou})')


@DATASETS.register_module()
class SSNDataset(BaseDataset):
    """Frame folders with the ground truths and proposals of a standard SSN proposal
    file (see :func:`load_localize_proposal_file`; a ``normalized_`` file must first be
    converted with MMAction2's tools, and the converted file sit beside it).

    Proposals are sorted into positive (best IoU > ``assigner.positive_iou_threshold``,
    plus the ground truths if ``sampler.add_gt_as_proposals``), incomplete (IoU <
    ``incomplete_iou_threshold`` but mostly inside a ground truth) and background pools
    (``train_cfg['ssn']``). Training samples ``sampler.num_per_video`` proposals per video
    in the pools' ratios, from the video's own pools (``video_centric``) or the whole
    dataset, with labels, types (0 positive, 1 incomplete, 2 background), regression
    targets normalised by ``reg_normalize_constants`` (computed from the positives when
    None) and stage scale factors; ``SampleProposalFrames`` then picks their frames. Test
    samples carry every proposal as relative intervals and tick indices for the
    ``test_cfg['ssn']['sampler']['test_interval']`` frame grid. Videos without ground
    truth are dropped when ``filter_gt`` or in training.
    """

    def __init__(self, ann_file, pipeline, train_cfg: Mapping, test_cfg: Mapping, data_prefix,
                 test_mode: bool = False, filename_tmpl: str = 'img_{:05d}.jpg',
                 start_index: int = 1, modality: str = 'RGB', video_centric: bool = True,
                 reg_normalize_constants=None, body_segments: int = 5, aug_segments=(2, 2),
                 aug_ratio=(0.5, 0.5), clip_len: int = 1, frame_interval: int = 1,
                 filter_gt: bool = True, use_regression: bool = True, verbose: bool = False):
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.assigner = train_cfg['ssn']['assigner']
        self.sampler = train_cfg['ssn']['sampler']
        self.evaluater = test_cfg['ssn']['evaluater']
        self.filename_tmpl = filename_tmpl
        self.verbose = verbose
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, test_mode=test_mode,
                         start_index=start_index, modality=modality)
        if filter_gt or not test_mode:
            kept = [info for info in self.video_infos if info['gts']]
            logger.info('%d out of %d videos of %s have ground truth', len(kept),
                        len(self.video_infos), ann_file)
            self.video_infos = kept
        self.construct_proposal_pools()
        self.reg_norm_consts = self._compute_reg_normalize_constants() \
            if reg_normalize_constants is None else np.asarray(reg_normalize_constants)
        self.video_centric = video_centric
        self.body_segments = body_segments
        self.aug_segments = tuple(aug_segments)
        self.aug_ratio = tuple(float(r) for r in pair(aug_ratio, 'SSNDataset: aug_ratio'))
        ratios = [self.sampler[f'{k}_ratio'] for k in ('positive', 'background', 'incomplete')]
        num = self.sampler['num_per_video']
        self.positive_per_video = int(num * ratios[0] / sum(ratios))
        self.background_per_video = int(num * ratios[1] / sum(ratios))
        self.incomplete_per_video = num - self.positive_per_video - self.background_per_video
        self.test_interval = test_cfg['ssn']['sampler']['test_interval']
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.filter_gt = filter_gt
        self.use_regression = use_regression
        if verbose:
            logger.info('SSNDataset %s: %d positive, %d incomplete, %d background proposals in '
                        '%d videos; per video %d/%d/%d; regression constants %s', ann_file,
                        len(self.positive_pool), len(self.incomplete_pool),
                        len(self.background_pool), len(self.video_infos),
                        self.positive_per_video, self.background_per_video,
                        self.incomplete_per_video, self.reg_norm_consts.tolist())

    def load_annotations(self) -> list[dict]:
        if 'normalized_' in self.ann_file:
            self.proposal_file = self.ann_file.replace('normalized_', '')
            if not os.path.exists(self.proposal_file):
                raise FileNotFoundError(f'{self.ann_file} holds normalised proposals; convert it '
                                        f'to {self.proposal_file} first (MMAction2 tools/data)')
        else:
            self.proposal_file = self.ann_file
        infos = []
        for video_id, num_frames, gt_rows, proposal_rows in \
                load_localize_proposal_file(self.proposal_file):
            gts = [SSNInstance(int(start), int(end), num_frames, label=int(label), best_iou=1.0)
                   for label, start, end in gt_rows if int(start) < min(int(end), num_frames)]
            proposals = [SSNInstance(int(start), int(end), num_frames, label=int(label),
                                     best_iou=float(iou), overlap_self=float(overlap))
                         for label, iou, overlap, start, end in proposal_rows
                         if int(start) < min(int(end), num_frames)]
            infos.append(dict(frame_dir=self._join_prefix(video_id), video_id=video_id,
                              total_frames=num_frames, gts=gts, proposals=proposals))
        return infos

    @staticmethod
    def get_positives(gts: list, proposals: list, positive_threshold: float,
                      with_gt: bool = True) -> list[SSNInstance]:
        """Proposals with best IoU above ``positive_threshold`` (and the ground truths),
        with their regression targets computed."""
        positives = [p for p in proposals if p.best_iou > positive_threshold]
        if with_gt:
            positives.extend(gts)
        if positives:  # the best ground truth of every positive at once: (gts, positives)
            best = np.argmax(pairwise_temporal_iou(_segments(positives), _segments(gts)), axis=0)
            for proposal, j in zip(positives, best):
                proposal._regress_to(gts[j])
        return positives

    @staticmethod
    def get_negatives(proposals: list, incomplete_iou_threshold: float,
                      background_iou_threshold: float, background_coverage_threshold: float = 0.01,
                      incomplete_overlap_threshold: float = 0.7
                      ) -> tuple[list[SSNInstance], list[SSNInstance]]:
        """(incompletes, backgrounds): low-IoU proposals mostly inside a ground truth, and
        low-IoU proposals covering more than ``background_coverage_threshold`` of the video."""
        incompletes, backgrounds = [], []
        for p in proposals:
            if p.best_iou < incomplete_iou_threshold and p.overlap_self > incomplete_overlap_threshold:
                incompletes.append(p)
            elif p.best_iou < background_iou_threshold and p.coverage > background_coverage_threshold:
                backgrounds.append(p)
        return incompletes, backgrounds

    def _pools_of(self, info: dict, with_gt: bool):
        positives = self.get_positives(info['gts'], info['proposals'],
                                       self.assigner['positive_iou_threshold'], with_gt)
        incompletes, backgrounds = self.get_negatives(
            info['proposals'], self.assigner['incomplete_iou_threshold'],
            self.assigner['background_iou_threshold'],
            self.assigner['background_coverage_threshold'],
            self.assigner['incomplete_overlap_threshold'])
        return positives, incompletes, backgrounds

    def construct_proposal_pools(self) -> None:
        """Fill the dataset-wide positive, incomplete and background pools with
        (video_id, instance) pairs, and keep each video's own pools (``video_pools``,
        in ``video_infos`` order) for sampling."""
        self.positive_pool, self.background_pool, self.incomplete_pool = [], [], []
        self.video_pools = []
        for info in self.video_infos:
            positives, incompletes, backgrounds = self._pools_of(
                info, self.sampler['add_gt_as_proposals'])
            self.video_pools.append((positives, incompletes, backgrounds))
            self.positive_pool += [(info['video_id'], p) for p in positives]
            self.incomplete_pool += [(info['video_id'], p) for p in incompletes]
            self.background_pool += [(info['video_id'], p) for p in backgrounds]

    def get_all_gts(self) -> dict[int, dict[str, list]]:
        """Class index (label - 1) -> video id -> [[relative start, relative end], ...]."""
        gts = {}
        for info in self.video_infos:
            for gt in info['gts']:
                gts.setdefault(gt.label - 1, {}).setdefault(info['video_id'], []).append(
                    [gt.start_frame / info['total_frames'], gt.end_frame / info['total_frames']])
        return gts

    def _compute_reg_normalize_constants(self) -> np.ndarray:
        """(mean, std) of the positive proposals' regression targets (ground truths
        excluded), (2, 2)."""
        # a video's cached positives end with its ground truths when add_gt_as_proposals
        num_gts = [len(info['gts']) if self.sampler['add_gt_as_proposals'] else 0
                   for info in self.video_infos]
        targets = [p.regression_targets for (positives, _, _), n in zip(self.video_pools, num_gts)
                   for p in positives[:len(positives) - n]]
        if not targets:
            raise ValueError(f'SSNDataset({self.ann_file}): no positive proposal to compute '
                             'the regression constants from; give reg_normalize_constants')
        return np.array((np.mean(targets, axis=0), np.std(targets, axis=0)))

    def _check_dataset_pool(self, kind: int, pool: list, num: int) -> None:
        """Raise a ValueError naming the pool and its assigner thresholds when ``num``
        proposals are to be drawn from the empty dataset-wide ``pool``."""
        if num > 0 and not pool:
            name = POOL_KINDS[kind]
            thresholds = ', '.join(f'{key}={self.assigner.get(key)}'
                                   for key in POOL_THRESHOLDS[kind])
            raise ValueError(
                f'SSNDataset({self.ann_file}): no proposal of the dataset is {name}, but '
                f'{num} {name} proposals per video are to be sampled; check '
                f"train_cfg['ssn']['assigner'] ({thresholds}) or set the sampler's "
                f'{name}_ratio to 0')

    def _sample_proposals(self, idx: int) -> list[tuple]:
        """[((video_id, instance), type), ...] for one training sample."""
        dataset_pools = (self.positive_pool, self.incomplete_pool, self.background_pool)
        nums = (self.positive_per_video, self.incomplete_per_video, self.background_per_video)
        if not self.video_centric:
            out = []
            for kind, (pool, num) in enumerate(zip(dataset_pools, nums)):
                self._check_dataset_pool(kind, pool, num)
                out += [(pool[j], kind)
                        for j in np.random.choice(len(pool), num, replace=len(pool) < num)]
            return out
        info = self.video_infos[idx]
        out = []
        for kind, (video_pool, dataset_pool, num) in enumerate(
                zip(self.video_pools[idx], dataset_pools, nums)):
            if video_pool:
                picks = np.random.choice(len(video_pool), num, replace=len(video_pool) < num)
                out += [((info['video_id'], video_pool[j]), kind) for j in picks]
            else:  # nothing of this kind in the video: borrow from the whole dataset
                self._check_dataset_pool(kind, dataset_pool, num)
                picks = np.random.choice(len(dataset_pool), num, replace=False)
                out += [(dataset_pool[j], kind) for j in picks]
        return out

    def _stage_scale_factors(self, proposal: SSNInstance) -> list[float]:
        """How much of the starting/ending augmentation fits in the video."""
        span = self.clip_len * self.frame_interval
        duration = proposal.end_frame - proposal.start_frame
        _, _, (starting_length, _, ending_length) = proposal_stages(
            proposal.start_frame, proposal.end_frame, proposal.num_video_frames, span,
            self.aug_ratio)
        return [(starting_length + span + 1) / (duration * self.aug_ratio[0]),
                (ending_length + span + 1) / (duration * self.aug_ratio[1])]

    def prepare_train_frames(self, idx: int) -> dict | None:
        results = self._prepare(idx)
        results['out_proposals'] = self._sample_proposals(idx)
        labels, types, reg_targets, scale_factors = [], [], [], []
        (loc_mean, size_mean), (loc_std, size_std) = self.reg_norm_consts
        for (_, proposal), kind in results['out_proposals']:
            labels.append(0 if kind == 2 else proposal.label)
            types.append(kind)
            scale_factors.append(self._stage_scale_factors(proposal))
            loc, size = proposal.regression_targets
            if kind == 0:
                loc, size = (loc - loc_mean) / loc_std, (size - size_mean) / size_std
            reg_targets.append((loc, size))
        results['reg_targets'] = np.array(reg_targets, dtype=np.float32)
        results['proposal_scale_factor'] = np.array(scale_factors, dtype=np.float32)
        results['proposal_labels'] = np.array(labels)
        results['proposal_type'] = np.array(types)
        return self.pipeline(results)

    def prepare_test_frames(self, idx: int) -> dict | None:
        results = self._prepare(idx)
        num_frames = results['total_frames']
        num_ticks = len(proposal_test_offsets(num_frames, self.clip_len * self.frame_interval,
                                              self.test_interval))
        proposals = results['proposals'] or [SSNInstance(0, num_frames - 1, num_frames)]
        relative, ticks, scale_factors = [], [], []
        for p in proposals:
            start, end = p.start_frame / num_frames, p.end_frame / num_frames
            aug_start = (end - start) * self.aug_ratio[0]
            aug_end = (end - start) * self.aug_ratio[1]
            real_start, real_end = max(0.0, start - aug_start), min(1.0, end + aug_end)
            relative.append((start, end))
            ticks.append((np.array([real_start, start, end, real_end]) * num_ticks).astype(np.int32))
            scale_factors.append(((start - real_start) / aug_start, (real_end - end) / aug_end))
        results['relative_proposal_list'] = np.array(relative, dtype=np.float32)
        results['scale_factor_list'] = np.array(scale_factors, dtype=np.float32)
        results['proposal_tick_list'] = np.array(ticks, dtype=np.int32)
        results['reg_norm_consts'] = self.reg_norm_consts
        return self.pipeline(results)

    def _prepare(self, idx: int) -> dict:
        results = super()._prepare(idx)
        results['filename_tmpl'] = self.filename_tmpl
        return results

    def results_to_detections(self, results: list, top_k: int = 2000,
                              softmax_before_filter: bool = True, cls_top_k: int = 2,
                              **kwargs) -> list[dict[str, np.ndarray]]:
        """Per class, video id -> (n, 5) detections [rel. start, rel. end, score, centre
        regression, size regression]; score = softmax(activity)[class] *
        exp(completeness). With ``top_k`` > 0 only the ``top_k`` best (proposal, class)
        pairs of each video are kept. ``results``: per video a dict with
        ``relative_proposal_list``, ``activity_scores`` (n, classes + 1),
        ``completeness_scores`` (n, classes) and ``bbox_preds`` (n, classes * 2 or None)."""
        num_classes = results[0]['activity_scores'].shape[1] - 1
        detections = [dict() for _ in range(num_classes)]
        for info, result in zip(self.video_infos, results):
            proposals = np.asarray(result['relative_proposal_list']).reshape(-1, 2)
            scores = (softmax(result['activity_scores'][:, 1:], dim=1)
                      * np.exp(result['completeness_scores']))
            regression = result['bbox_preds']
            if regression is None:
                regression = np.zeros((len(proposals), num_classes, 2), dtype=np.float32)
            regression = np.asarray(regression).reshape(-1, num_classes, 2)
            if top_k <= 0:
                for c in range(num_classes):
                    detections[c][info['video_id']] = np.concatenate(
                        [proposals, scores[:, c:c + 1], regression[:, c]], axis=1)
                continue
            # the top_k (proposal, class) pairs, in ascending score order, stacked once
            p, c = np.divmod(np.argsort(scores.ravel())[-top_k:], num_classes)
            rows = np.concatenate([proposals[p], scores[p, c][:, None], regression[p, c]], axis=1)
            for cls in np.unique(c):
                detections[cls][info['video_id']] = rows[c == cls]
        return detections

    def evaluate(self, results, metrics='mAP', metric_options=None, logger=None,
                 **deprecated_kwargs):
        """SSN's mAP needs temporal NMS, location regression and per-class AP
        (``mmaction.localization``), which are not part of ActionLab yet: raises
        NotImplementedError. ``results_to_detections`` gives the detections."""
        raise NotImplementedError('SSNDataset.evaluate (mAP@0.1:0.9 on THUMOS14) is not available '
                                  'yet; results_to_detections() gives the per-class detections')

"""BaseDataset: annotation loading, sample preparation and evaluation shared by the
recognition datasets (MMAction2's ``BaseDataset`` contract)."""
from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import warnings
from abc import ABCMeta, abstractmethod
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from actionlab.data.transforms import Compose
from actionlab.engine.logging import to_jsonable
from actionlab.evaluation import (
    mean_average_precision,
    mean_class_accuracy,
    mmit_mean_average_precision,
    top_k_accuracy,
)

logger = logging.getLogger(__name__)

METRICS = ('top_k_accuracy', 'mean_class_accuracy', 'mean_average_precision',
           'mmit_mean_average_precision')
MULTI_LABEL_METRICS = ('mean_average_precision', 'mmit_mean_average_precision')
MODALITIES = ('RGB', 'Flow', 'Audio', 'Pose')
# with skip_invalid, give up after this many unreadable samples in a row
MAX_CONSECUTIVE_INVALID = 100


class BaseDataset(Dataset, metaclass=ABCMeta):
    """A list of samples (``video_infos``) run through a transform ``pipeline``.

    Subclasses implement :meth:`load_annotations`. ``dataset[i]`` deep-copies
    ``video_infos[i]``, adds ``modality`` and ``start_index`` (the index of the first
    frame: 0 for decoded videos, 1 for frame folders) and, for ``multi_class``, turns
    the label list into a one-hot float tensor of ``num_classes``; then runs the pipeline.
    ``sample_by_class`` groups samples by label and sets ``class_prob`` proportional to
    ``class_frequency ** power`` (for ``ClassSpecificDistributedSampler``, which
    ``build_dataloader`` then uses for training, never in ``test_mode``;
    ``dynamic_length`` is its epoch-length mode).

    A sample whose file cannot be read (missing, corrupt: an ``OSError``) raises an error
    naming the file, the pipeline step and the dataset index. With ``skip_invalid=True``
    it is replaced by the next readable sample (index + 1, + 2, ...; the same every time),
    and the file is logged once. ``skip_invalid`` is for training only: in ``test_mode``
    the results must stay aligned with the annotation file, so it raises ValueError.
    """

    def __init__(self, ann_file: str | os.PathLike, pipeline: Sequence,
                 data_prefix: str | os.PathLike | None = None, test_mode: bool = False,
                 multi_class: bool = False, num_classes: int | None = None,
                 start_index: int = 1, modality: str = 'RGB', sample_by_class: bool = False,
                 power: float = 0., dynamic_length: bool = False, skip_invalid: bool = False):
        name = type(self).__name__
        if multi_class and num_classes is None:
            raise ValueError(f'{name}: multi_class=True needs num_classes')
        if multi_class and sample_by_class:
            raise ValueError(f'{name}: sample_by_class does not apply to multi_class datasets')
        if modality not in MODALITIES:
            raise ValueError(f'{name}: modality must be one of {", ".join(MODALITIES)}, '
                             f'got {modality!r}')
        if skip_invalid and test_mode:
            raise ValueError(f'{name}({ann_file}): skip_invalid cannot be used in test mode: '
                             'results must stay aligned with the annotation file (a replaced '
                             'sample would be scored as another video)')
        self.ann_file = str(ann_file)
        if data_prefix is not None:
            data_prefix = str(data_prefix)
            if os.path.isdir(data_prefix):
                data_prefix = os.path.realpath(data_prefix)
        self.data_prefix = data_prefix
        self.test_mode = test_mode
        self.multi_class = multi_class
        self.num_classes = num_classes
        self.start_index = start_index
        self.modality = modality
        self.sample_by_class = sample_by_class
        self.power = power
        self.dynamic_length = dynamic_length
        self.skip_invalid = skip_invalid
        self._invalid: set[int] = set()
        # the dataset names the sample in error notes (_load); Compose names the step
        self.pipeline = Compose(pipeline, name_sample=False)
        self.video_infos: list[dict] = self.load_annotations()
        if sample_by_class:
            self._set_class_prob()

    @abstractmethod
    def load_annotations(self) -> list[dict]:
        """Read ``ann_file`` into a list of sample dicts."""

    # -- annotation parsing helpers -------------------------------------------------------

    def _join_prefix(self, path: str) -> str:
        return path if self.data_prefix is None else os.path.join(self.data_prefix, path)

    def _annotation_lines(self) -> list[tuple[int, str, list[str]]]:
        """(line number, line, tokens) of every non-blank line of the text ``ann_file``."""
        path = Path(self.ann_file)
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise FileNotFoundError(f'annotation file not found: {path}') from None
        lines = [(n, line.strip(), line.split()) for n, line in enumerate(text.splitlines(), 1)
                 if line.strip()]
        if not lines:
            raise ValueError(f'annotation file {path} is empty')
        return lines

    def _labels(self, tokens: Sequence, where: str) -> int | list[int]:
        """Integer labels from ``tokens``: one int, or a list for ``multi_class``."""
        if not tokens:
            raise ValueError(f'{where}: no label')
        labels = []
        for tok in tokens:
            try:
                labels.append(int(tok) if isinstance(tok, str) else _as_int(tok))
            except (ValueError, TypeError):
                raise ValueError(f'{where}: label {tok!r} is not an integer') from None
        if self.num_classes is not None:
            bad = [lab for lab in labels if lab >= self.num_classes]
            if bad:
                raise ValueError(f'{where}: label {bad[0]} is out of range for '
                                 f'num_classes={self.num_classes}')
        if self.multi_class:
            return labels
        if len(labels) != 1:
            raise ValueError(f'{where}: {len(labels)} labels but multi_class=False; set '
                             'multi_class=True and num_classes for multi-label annotations')
        return labels[0]

    def parse_frame_count_lines(self, path_key: str, with_offset: bool = False) -> list[dict]:
        """Parse text lines ``path total_frames label [label ...]`` (``with_offset``:
        ``path offset total_frames label ...``) into dicts with ``path_key`` (joined to
        ``data_prefix``), ``total_frames``, ``label`` and ``offset``."""
        fields = f'{path_key} offset total_frames' if with_offset else f'{path_key} total_frames'
        num_numbers = 2 if with_offset else 1
        infos = []
        for lineno, line, tokens in self._annotation_lines():
            where = f'{self.ann_file}:{lineno}: {line!r}'
            if len(tokens) < num_numbers + 2:
                raise ValueError(f'{where}: expected "{fields} label [label ...]"')
            try:
                numbers = [int(t) for t in tokens[1:1 + num_numbers]]
            except ValueError:
                raise ValueError(f'{where}: expected "{fields} label [label ...]" with '
                                 'integer frame numbers') from None
            info = {path_key: self._join_prefix(tokens[0])}
            if with_offset:
                info['offset'] = numbers[0]
            info['total_frames'] = numbers[-1]
            info['label'] = self._labels(tokens[1 + num_numbers:], where)
            infos.append(info)
        return infos

    def check_num_classes(self, num_classes: int) -> None:
        """Raise ValueError naming the annotation file and the sample if any label does
        not fit a classifier of ``num_classes`` classes (done before training starts, so
        a bad label never surfaces as an index error inside the loss)."""
        for idx, info in enumerate(self.video_infos):
            label = info.get('label')
            labels = label if isinstance(label, (list, tuple)) else [label]
            for lab in labels:
                if lab is not None and not 0 <= int(lab) < num_classes:
                    raise ValueError(f'{self.ann_file}: label {lab} of '
                                     f'{self._sample_name(idx)} is out of range for a model '
                                     f'with num_classes={num_classes}')

    def read_json(self):
        """The parsed ``.json`` ``ann_file``."""
        path = Path(self.ann_file)
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(f'annotation file not found: {path}') from None
        except json.JSONDecodeError as e:
            raise ValueError(f'annotation file {path} is not valid JSON: {e}') from None

    def read_json_list(self) -> list[dict]:
        """The ``.json`` ``ann_file`` as a non-empty list of sample dicts."""
        infos = self.read_json()
        if not isinstance(infos, list):
            raise ValueError(f'annotation file {self.ann_file} must hold a list of samples, '
                             f'got {type(infos).__name__}')
        if not infos:
            raise ValueError(f'annotation file {self.ann_file} is empty')
        for i, info in enumerate(infos):
            if not isinstance(info, dict):
                raise ValueError(f'{self.ann_file}: sample {i} must be a dict, got {info!r}')
        return infos

    def load_json_annotations(self) -> list[dict]:
        """Read a ``.json`` list of sample dicts with ``filename`` or ``frame_dir`` and a
        ``label`` list (plus ``total_frames`` etc. as the dataset needs)."""
        path = Path(self.ann_file)
        infos = self.read_json_list()
        for i, info in enumerate(infos):
            where = f'{path}: sample {i}'
            if not {'filename', 'frame_dir'} & info.keys():
                raise ValueError(f'{where}: expected a dict with "filename" or "frame_dir", '
                                 f'got {info!r}')
            key = 'frame_dir' if 'frame_dir' in info else 'filename'
            info[key] = self._join_prefix(info[key])
            if 'label' not in info:
                raise ValueError(f'{where}: no "label"')
            label = info['label']
            info['label'] = self._labels(label if isinstance(label, list) else [label], where)
        return infos

    def _set_class_prob(self) -> None:
        """Group ``video_infos`` by class and set ``class_prob`` from the class frequencies
        (``sample_by_class``). Subclasses that drop samples after loading call it again, so
        the weights describe the samples that remain."""
        self.video_infos_by_class = self.parse_by_class()
        freq = np.array([len(v) / len(self.video_infos)
                         for v in self.video_infos_by_class.values()]) ** self.power
        self.class_prob = dict(zip(self.video_infos_by_class, (freq / freq.sum()).tolist()))

    def parse_by_class(self) -> dict[int, list[dict]]:
        """Samples grouped by label."""
        by_class = defaultdict(list)
        for info in self.video_infos:
            by_class[info['label']].append(info)
        return by_class

    # -- samples -----------------------------------------------------------------------------

    def _prepare(self, idx: int) -> dict:
        results = copy.deepcopy(self.video_infos[idx])
        results['modality'] = self.modality
        results['start_index'] = self.start_index
        if self.multi_class and isinstance(results['label'], list):
            onehot = torch.zeros(self.num_classes)
            onehot[results['label']] = 1.
            results['label'] = onehot
        return results

    def prepare_train_frames(self, idx: int) -> dict | None:
        """The training pipeline's output for sample ``idx``."""
        return self.pipeline(self._prepare(idx))

    def prepare_test_frames(self, idx: int) -> dict | None:
        """The test pipeline's output for sample ``idx``."""
        return self.pipeline(self._prepare(idx))

    def __len__(self) -> int:
        return len(self.video_infos)

    def _sample_name(self, idx: int) -> str:
        info = self.video_infos[idx]
        for key in ('filename', 'frame_dir', 'audio_path', 'video_dir', 'video_name'):
            if key in info:
                return str(info[key])
        return '?'

    def _load(self, idx: int) -> dict | None:
        prepare = self.prepare_test_frames if self.test_mode else self.prepare_train_frames
        try:
            return prepare(idx)
        except Exception as e:
            if hasattr(e, 'add_note'):  # Python >= 3.11
                e.add_note(f'(sample {idx} of {type(self).__name__}({self.ann_file}): '
                           f'{self._sample_name(idx)})')
            raise

    def __getitem__(self, idx: int) -> dict | None:
        if not self.skip_invalid:
            return self._load(idx)
        failures = 0
        for step in range(len(self)):
            i = (idx + step) % len(self)
            if i in self._invalid:
                continue
            try:
                return self._load(i)
            except OSError as e:
                self._invalid.add(i)
                logger.warning('skip_invalid: sample %d (%s) cannot be read and is replaced by '
                               'the next readable sample: %s', i, self._sample_name(i), e)
                failures += 1
                if failures == MAX_CONSECUTIVE_INVALID:
                    raise RuntimeError(
                        f'{type(self).__name__}({self.ann_file}): {failures} samples in a row '
                        f'cannot be read (the last: {self._sample_name(i)}); check data_prefix '
                        'and the files') from e
        raise RuntimeError(f'{type(self).__name__}({self.ann_file}): no sample can be read')

    @staticmethod
    def dump_results(results, out: str | os.PathLike) -> None:
        """Write ``results`` to ``out``: ``.json``, ``.yaml``/``.yml`` or ``.pkl``/``.pickle``
        by extension (arrays and tensors become lists in JSON and YAML)."""
        out = Path(out)
        suffix = out.suffix.lower()
        if suffix in ('.pkl', '.pickle'):
            out.write_bytes(pickle.dumps(results))
        elif suffix == '.json':
            out.write_text(json.dumps(to_jsonable(results, ndigits=None)))
        elif suffix in ('.yaml', '.yml'):
            import yaml
            out.write_text(yaml.safe_dump(to_jsonable(results, ndigits=None)))
        else:
            raise ValueError(f'cannot dump results to {out}: use a .json, .yaml, .yml, .pkl '
                             'or .pickle file')

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(self, results: list, metrics: str | Sequence[str] = 'top_k_accuracy',
                 metric_options: dict | None = None, logger: logging.Logger | None = None,
                 **deprecated_kwargs) -> dict[str, float]:
        """Score per-sample class scores ``results`` (dataset order; NumPy or torch, each of
        shape (num_classes,)) against the labels.

        ``metrics``: 'top_k_accuracy' (keys ``top{k}_acc``, k from
        ``metric_options['top_k_accuracy']['topk']``, default (1, 5)), 'mean_class_accuracy'
        and, for multi-label datasets, 'mean_average_precision' and
        'mmit_mean_average_precision'. Old-style ``topk=...`` keyword arguments are
        accepted with a deprecation warning.
        """
        log = logger or logging.getLogger(__name__)
        metric_options = copy.deepcopy(metric_options if metric_options is not None
                                       else {'top_k_accuracy': {'topk': (1, 5)}})
        if deprecated_kwargs:
            warnings.warn('metric arguments such as topk=... belong in metric_options='
                          "{'top_k_accuracy': {...}}", DeprecationWarning, stacklevel=2)
            metric_options['top_k_accuracy'] = dict(metric_options.get('top_k_accuracy', {}),
                                                    **deprecated_kwargs)
        if not isinstance(results, list):
            raise TypeError(f'results must be a list of per-sample scores, '
                            f'got {type(results).__name__}')
        if len(results) != len(self):
            raise ValueError(f'{len(results)} results for a dataset of {len(self)} samples')
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        for metric in metrics:
            if metric not in METRICS:
                raise KeyError(f"metric '{metric}' is not supported; allowed: "
                               f"{', '.join(METRICS)}")
        scores = np.stack([_as_numpy(r) for r in results])
        labels = [info['label'] for info in self.video_infos]
        multi_label = any(isinstance(lab, list) for lab in labels)
        single_label_metrics = [m for m in metrics if m not in MULTI_LABEL_METRICS]
        if multi_label and single_label_metrics:
            raise ValueError(f'{", ".join(single_label_metrics)} need single-label annotations, '
                             f'but {self.ann_file} is multi-label; use '
                             f'{" or ".join(MULTI_LABEL_METRICS)}')
        eval_results = {}
        for metric in metrics:
            if metric in MULTI_LABEL_METRICS:
                many_hot = np.zeros(scores.shape, dtype=np.float32)
                for row, lab in zip(many_hot, labels):
                    row[lab] = 1.
                fn = mean_average_precision if metric == 'mean_average_precision' \
                    else mmit_mean_average_precision
                eval_results[metric] = fn(scores, many_hot)
            elif metric == 'top_k_accuracy':
                topk = metric_options.setdefault('top_k_accuracy', {}).setdefault('topk', (1, 5))
                topk = (topk,) if isinstance(topk, int) else tuple(topk)
                for k, acc in zip(topk, top_k_accuracy(scores, labels, topk)):
                    eval_results[f'top{k}_acc'] = acc
            else:
                eval_results['mean_class_accuracy'] = mean_class_accuracy(scores, labels)
        for name, value in eval_results.items():
            log.info('%s: %.4f', name, value)
        return eval_results


def _as_int(value) -> int:
    if isinstance(value, (bool, np.bool_)) or int(value) != value:
        raise ValueError(value)
    return int(value)


def _as_numpy(score) -> np.ndarray:
    if isinstance(score, torch.Tensor):
        score = score.detach().cpu().numpy()
    return np.asarray(score).reshape(-1)

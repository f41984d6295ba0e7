"""HVUDataset: Holistic Video Understanding, multi-label tags in several categories."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from actionlab.evaluation import mean_average_precision

from .base import BaseDataset
from .builder import DATASETS


@DATASETS.register_module()
class HVUDataset(BaseDataset):
    """A ``.json`` list of videos or frame folders with tags grouped by category::

        [{"filename": "gD_G1b0wV5I_001015_001035.mp4",
          "label": {"concept": [250, 131], "object": [1570], "action": [180]}},
         ...]

    (frame folders: ``"frame_dir"`` and ``"total_frames"`` instead of ``"filename"``, and
    ``filename_tmpl`` must be given). ``tag_categories`` names the categories and
    ``tag_category_nums`` their tag counts; ``LoadHVULabel`` turns the tag dict into
    multi-hot tensors over all tags. ``start_index`` defaults to 0.
    """

    def __init__(self, ann_file, pipeline, tag_categories: Sequence[str],
                 tag_category_nums: Sequence[int], filename_tmpl: str | None = None,
                 **kwargs):
        if len(tag_categories) != len(tag_category_nums):
            raise ValueError(f'HVUDataset: {len(tag_categories)} tag_categories but '
                             f'{len(tag_category_nums)} tag_category_nums')
        self.tag_categories = list(tag_categories)
        self.tag_category_nums = [int(n) for n in tag_category_nums]
        self.filename_tmpl = filename_tmpl
        self.num_tags = sum(self.tag_category_nums)
        self.category2num = dict(zip(self.tag_categories, self.tag_category_nums))
        starts = np.cumsum([0] + self.tag_category_nums[:-1]).tolist()
        self.category2startidx = dict(zip(self.tag_categories, starts))
        kwargs.setdefault('start_index', 0)
        super().__init__(ann_file, pipeline, **kwargs)

    def load_annotations(self) -> list[dict]:
        if not self.ann_file.endswith('.json'):
            raise ValueError(f'HVUDataset: ann_file must be a .json file, got {self.ann_file}')
        return self.load_json_annotations()

    def load_json_annotations(self) -> list[dict]:
        infos = self.read_json_list()
        path_key = 'filename' if 'filename' in infos[0] else 'frame_dir'
        if path_key == 'frame_dir' and self.filename_tmpl is None:
            raise ValueError(f'HVUDataset({self.ann_file}): frame folders need filename_tmpl')
        for i, info in enumerate(infos):
            where = f'{self.ann_file}: sample {i}'
            if path_key not in info or not isinstance(info.get('label'), dict):
                raise ValueError(f'{where}: expected "{path_key}" and a "label" dict of '
                                 f'category -> tags, got {info!r}')
            for category, tags in info['label'].items():
                size = self.category2num.get(category)
                bad = [t for t in tags if size is not None and not 0 <= t < size]
                if bad:
                    raise ValueError(f'{where}: tag {bad[0]} of category {category!r} is out of '
                                     f'range for its {size} tags')
            info[path_key] = self._join_prefix(info[path_key])
            info['categories'] = self.tag_categories
            info['category_nums'] = self.tag_category_nums
            if path_key == 'frame_dir':
                info['filename_tmpl'] = self.filename_tmpl
        return infos

    def check_num_classes(self, num_classes: int) -> None:
        """The classifier must output one score per tag of all categories."""
        if num_classes != self.num_tags:
            raise ValueError(f'HVUDataset({self.ann_file}) has {self.num_tags} tags in '
                             f'{len(self.tag_categories)} categories, but the model has '
                             f'num_classes={num_classes}')

    def evaluate(self, results: list, metrics='mean_average_precision',
                 metric_options: dict | None = None, logger: logging.Logger | None = None
                 ) -> dict[str, float]:
        """mAP of each tag category (``{category}_mAP``) over the samples annotated in it
        (categories are missing from some samples, so no mAP over all tags)."""
        metrics = [metrics] if isinstance(metrics, str) else list(metrics)
        if metrics != ['mean_average_precision']:
            raise KeyError(f"HVUDataset supports metrics='mean_average_precision' only, "
                           f'got {metrics}')
        if len(results) != len(self):
            raise ValueError(f'{len(results)} results for a dataset of {len(self)} samples')
        log = logger or logging.getLogger(__name__)
        eval_results = {}
        for category in self.tag_categories:
            start, num = self.category2startidx[category], self.category2num[category]
            preds, gts = [], []
            for result, info in zip(results, self.video_infos):
                if category in info['label']:
                    preds.append(np.asarray(result).reshape(-1)[start:start + num])
                    gt = np.zeros(num, dtype=np.float32)
                    gt[info['label'][category]] = 1.
                    gts.append(gt)
            if preds:
                eval_results[f'{category}_mAP'] = mean_average_precision(preds, gts)
                log.info('%s_mAP: %.4f', category, eval_results[f'{category}_mAP'])
        return eval_results

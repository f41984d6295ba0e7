"""Label transforms: HVU's per-category tag dictionaries as multi-hot tensors."""
from __future__ import annotations

import torch

from .base import TRANSFORMS, Transform


@TRANSFORMS.register_module()
class LoadHVULabel(Transform):
    """HVU tags ``label`` ({category: [tag, ...]}) -> three tensors over all tags of the
    categories ``categories`` (with ``category_nums`` tags each, concatenated in that
    order): ``label`` (multi-hot), ``mask`` (1 for the tags of the categories the sample
    is annotated in) and ``category_mask`` (1 per annotated category). Categories not in
    ``categories`` are ignored (e.g. when training on a subset).

    The category layout (start offsets) is computed once per (categories, category_nums).
    ``HVUDataset`` checks every tag's range when it loads the annotations; this transform
    keeps a min/max check per category for results that come from elsewhere."""

    def __init__(self, **kwargs):
        """Keyword arguments are accepted and ignored, as in MMAction2."""
        self._layouts: dict[tuple, tuple[dict, int]] = {}

    def _layout(self, categories, nums) -> tuple[dict[str, tuple[int, int, int]], int]:
        """({category: (position, start offset, size)}, total tags), cached."""
        key = (tuple(categories), tuple(nums))
        layout = self._layouts.get(key)
        if layout is None:
            if len(key[0]) != len(key[1]):
                raise ValueError(f'LoadHVULabel: {len(key[0])} categories but '
                                 f'{len(key[1])} category_nums')
            offsets, start = {}, 0
            for position, (category, size) in enumerate(zip(*key)):
                offsets[category] = (position, start, size)
                start += size
            layout = self._layouts[key] = (offsets, start)
        return layout

    def __call__(self, results: dict) -> dict:
        offsets, num_tags = self._layout(results['categories'], results['category_nums'])
        label = torch.zeros(num_tags)
        mask = torch.zeros(num_tags)
        category_mask = torch.zeros(len(offsets))
        for category, tags in results['label'].items():
            if category not in offsets:
                continue
            position, start, size = offsets[category]
            if len(tags) and (min(tags) < 0 or max(tags) >= size):
                bad = next(t for t in tags if not 0 <= t < size)
                raise ValueError(f'LoadHVULabel: tag {bad} of category {category!r} is out of '
                                 f'range for its {size} tags')
            category_mask[position] = 1.
            label[[start + t for t in tags]] = 1.
            mask[start:start + size] = 1.
        results['label'] = label
        results['mask'] = mask
        results['category_mask'] = category_mask
        return results

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
    ``categories`` are ignored (e.g. when training on a subset)."""

    def __init__(self, **kwargs):
        """Keyword arguments are accepted and ignored, as in MMAction2."""

    def __call__(self, results: dict) -> dict:
        categories, nums = list(results['categories']), list(results['category_nums'])
        if len(categories) != len(nums):
            raise ValueError(f'LoadHVULabel: {len(categories)} categories but '
                             f'{len(nums)} category_nums')
        starts = dict(zip(categories, [sum(nums[:i]) for i in range(len(nums))]))
        sizes = dict(zip(categories, nums))
        label = torch.zeros(sum(nums))
        mask = torch.zeros(sum(nums))
        category_mask = torch.zeros(len(categories))
        for category, tags in results['label'].items():
            if category not in starts:
                continue
            start, size = starts[category], sizes[category]
            bad = [t for t in tags if not 0 <= t < size]
            if bad:
                raise ValueError(f'LoadHVULabel: tag {bad[0]} of category {category!r} is out of '
                                 f'range for its {size} tags')
            category_mask[categories.index(category)] = 1.
            label[[start + t for t in tags]] = 1.
            mask[start:start + size] = 1.
        results['label'] = label
        results['mask'] = mask
        results['category_mask'] = category_mask
        return results

"""LoadHVULabel: tag dictionaries as multi-hot label, mask and category mask."""
from __future__ import annotations

import pytest

from actionlab.data.transforms import LoadHVULabel


def test_hvu_label_multi_hot_and_masks():
    results = dict(categories=['action', 'object', 'scene'], category_nums=[3, 4, 2],
                   label={'object': [0, 3], 'scene': [1], 'event': [7]})  # event: not trained
    out = LoadHVULabel()(results)
    assert out['label'].tolist() == [0, 0, 0, 1, 0, 0, 1, 0, 1]
    assert out['mask'].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert out['category_mask'].tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="tag 4 of category 'object' is out of range"):
        LoadHVULabel()(dict(results, label={'object': [4]}))
    assert repr(LoadHVULabel(unused=1)) == 'LoadHVULabel()'


def test_hvu_label_layout_is_cached_per_category_list():
    transform = LoadHVULabel()
    first = dict(categories=['action', 'object'], category_nums=[2, 3], label={'object': [2]})
    second = dict(categories=('object', 'scene'), category_nums=(3, 1), label={'object': [2]})
    assert transform(dict(first))['label'].tolist() == [0, 0, 0, 0, 1]
    assert transform(dict(second))['label'].tolist() == [0, 0, 1, 0]
    out = transform(dict(first, label={'action': [1], 'object': []}))
    assert out['label'].tolist() == [0, 1, 0, 0, 0] and out['mask'].tolist() == [1] * 5
    assert out['category_mask'].tolist() == [1, 1]
    assert len(transform._layouts) == 2  # one per (categories, category_nums)
    with pytest.raises(ValueError, match="tag -1 of category 'object' is out of range"):
        transform(dict(first, label={'object': [0, -1]}))
    with pytest.raises(ValueError, match='2 categories but 3 category_nums'):
        transform(dict(first, category_nums=[1, 2, 3]))

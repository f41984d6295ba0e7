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

"""Confusion-matrix plot: a real image with one cell per class."""
from __future__ import annotations

import numpy as np
import pytest

from actionlab.visualization import plot_confusion_matrix


def test_plot_confusion_matrix_writes_an_image(tmp_path):
    pytest.importorskip('matplotlib', reason='plotting needs matplotlib (the plot extra)')
    image = pytest.importorskip('PIL.Image', reason='reading the PNG back needs Pillow')
    path = plot_confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], tmp_path / 'plots' / 'cf.png',
                                 class_names=['run', 'jump', 'swim'])
    png = np.asarray(image.open(path).convert('RGB'))
    assert png.shape[0] > 200 and png.shape[1] > 200
    # the darkest blue is the full diagonal cells of 'run' and 'jump' (recall 1): present
    assert (np.abs(png.astype(int) - (8, 48, 107)).sum(axis=2) < 30).any()
    with pytest.raises(ValueError, match='label 2 has no name: 2 class names given'):
        plot_confusion_matrix([0, 1, 2], [0, 1, 2], tmp_path / 'x.png', class_names=['a', 'b'])

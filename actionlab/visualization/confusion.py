"""Confusion-matrix plot (matplotlib, the ``plot`` extra)."""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from actionlab.evaluation.recognition import confusion_counts, normalize_confusion

#: above this many classes the cells get no numbers (they would not be readable)
MAX_ANNOTATED_CLASSES = 30


def matplotlib_figure():
    """``(Figure, FigureCanvasAgg)`` from matplotlib, or an ImportError naming the extra."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plotting needs matplotlib: pip install "actionlab[plot]"') from None
    return Figure, FigureCanvasAgg


def plot_confusion_matrix(y_pred, y_real, out_file: str | os.PathLike,
                          class_names: Sequence[str] | None = None, normalize: str | None = 'true',
                          title: str = 'Confusion matrix') -> Path:
    """Plot the confusion matrix of integer predictions ``y_pred`` against the true
    labels ``y_real`` to an image file (.png, .pdf, .svg, ...).

    Rows are true classes, columns predicted ones, over the classes that occur in either
    (see :func:`actionlab.evaluation.confusion_matrix`), named by ``class_names[label]``
    when given. Colours show the matrix normalised as ``normalize`` says ('true': each
    row sums to 1, so the diagonal is the per-class recall); cells are labelled with the
    counts when there are at most 30 classes. Returns the path written.
    """
    Figure, FigureCanvasAgg = matplotlib_figure()
    labels, counts = confusion_counts(y_pred, y_real)
    if class_names is not None and len(labels) and labels.max() >= len(class_names):
        raise ValueError(f'label {labels.max()} has no name: {len(class_names)} class names given')
    names = [class_names[i] if class_names is not None else str(i) for i in labels]
    shown = normalize_confusion(counts, normalize)

    n = len(labels)
    side = min(4 + 0.45 * n, 40)
    fig = Figure(figsize=(side + 1.5, side))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap='Blues', vmin=0, interpolation='nearest')
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xticks=range(n), yticks=range(n), xlabel='Predicted label', ylabel='True label', title=title)
    ax.set_xticklabels(names, rotation=45, ha='right', rotation_mode='anchor')
    ax.set_yticklabels(names)
    if n <= MAX_ANNOTATED_CLASSES:
        threshold = shown.max() / 2 if shown.size else 0
        for (i, j), count in np.ndenumerate(counts):
            ax.text(j, i, str(count), ha='center', va='center', fontsize=8,
                    color='white' if shown[i, j] > threshold else 'black')
    fig.tight_layout()
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_file, dpi=100)
    return out_file

"""Fixtures for the engine tests: a tiny recognizer-like model and a toy dataset.

* ``ToyDataset`` - 4 separable Gaussian clusters of 8-d points; items are
  ``{'imgs': (8,) float tensor, 'label': int64 tensor}`` like a recognition pipeline's
  output; ``evaluate(results, metrics=..., logger=None)`` returns top-1 accuracy, or
  the scripted values of ``scripted_metrics`` (one dict per call) when given.
* ``TinyRecognizer`` - Linear + BatchNorm + Dropout + Linear with the recognizer
  interface: ``model(imgs, label, return_loss=True)`` -> ``{'loss_cls', 'top1_acc'}``,
  ``model(imgs, return_loss=False)`` -> (batch, classes) scores. ``nan_at`` makes the
  loss NaN at that (0-based) forward call.
* ``make_runner(work_dir, ...)`` - a seeded Runner over a TinyRecognizer with SGD.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from actionlab.engine.runner import Runner

NUM_CLASSES = 4
DIM = 8


class ToyDataset(Dataset):
    def __init__(self, num_samples: int = 32, seed: int = 0, scripted_metrics: list[dict] | None = None):
        g = torch.Generator().manual_seed(seed)
        centers = torch.randn(NUM_CLASSES, DIM, generator=g) * 3
        self.labels = torch.arange(num_samples) % NUM_CLASSES
        self.points = centers[self.labels] + torch.randn(num_samples, DIM, generator=g)
        self.scripted_metrics = list(scripted_metrics or [])
        self.evaluate_calls: list[dict] = []

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, idx: int) -> dict:
        return {'imgs': self.points[idx], 'label': self.labels[idx]}

    def evaluate(self, results, metrics='top_k_accuracy', logger=None, **kwargs) -> dict:
        self.evaluate_calls.append(dict(metrics=metrics, num_results=len(results), **kwargs))
        if self.scripted_metrics:
            return self.scripted_metrics.pop(0)
        preds = torch.tensor([int(r.argmax()) for r in results])
        return {'top1_acc': float((preds == self.labels).float().mean())}


class TinyRecognizer(nn.Module):
    def __init__(self, dropout: float = 0.2, nan_at: int | None = None):
        super().__init__()
        self.fc1 = nn.Linear(DIM, 16)
        self.bn = nn.BatchNorm1d(16)
        self.drop = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(16, NUM_CLASSES)
        self.nan_at = nan_at
        self.calls = 0

    def forward(self, imgs, label=None, return_loss=True, **kwargs):
        scores = self.fc_cls(self.drop(F.relu(self.bn(self.fc1(imgs)))))
        if not return_loss:
            return scores
        loss = F.cross_entropy(scores, label)
        if self.nan_at is not None and self.calls == self.nan_at:
            loss = loss * float('nan')
        self.calls += 1
        return {'loss_cls': loss, 'top1_acc': (scores.argmax(1) == label).float().mean()}


@pytest.fixture
def toy_dataset():
    return ToyDataset


@pytest.fixture
def tiny_model():
    return TinyRecognizer


@pytest.fixture
def make_loader():
    def make(dataset=None, batch_size=8, shuffle=True, num_workers=0, **kwargs):
        return DataLoader(dataset if dataset is not None else ToyDataset(), batch_size=batch_size,
                          shuffle=shuffle, num_workers=num_workers, **kwargs)
    return make


@pytest.fixture
def make_runner():
    def make(work_dir, model=None, lr=0.1, max_epochs=2, seed=0, **kwargs):
        torch.manual_seed(0)
        model = model if model is not None else TinyRecognizer()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
        return Runner(model, optimizer, work_dir=work_dir, max_epochs=max_epochs, seed=seed, **kwargs)
    return make


@pytest.fixture
def deterministic():
    """Deterministic torch kernels for one test (restored afterwards)."""
    before = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    yield
    torch.use_deterministic_algorithms(before[0])
    torch.backends.cudnn.benchmark = before[1]



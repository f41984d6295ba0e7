"""Running a model over a test/validation loader."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from actionlab.engine.distributed import is_main_process
from actionlab.engine.runner import to_device


@torch.inference_mode()
def single_gpu_test(model: nn.Module, data_loader: DataLoader) -> list[np.ndarray]:
    """Class scores of every sample of ``data_loader``, in loader order (one array each).

    The model runs in eval mode on the device of its parameters, with
    ``model(**batch, return_loss=False)``; a progress bar counts the samples.
    """
    model.eval()
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    results: list[np.ndarray] = []
    with tqdm(total=len(data_loader.dataset), desc='test', unit='video',
              disable=not is_main_process()) as bar:
        for batch in data_loader:
            batch = to_device(batch, device, non_blocking=device.type == 'cuda')
            scores = model(**batch, return_loss=False)
            if isinstance(scores, torch.Tensor):
                scores = scores.float().cpu().numpy()
            results.extend(scores)
            bar.update(len(scores))
    return results

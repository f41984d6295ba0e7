"""Distributed training: launcher environments, and a real 2-process DDP run (gloo, CPU) whose
weights equal a single-process run with the same global batch."""
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from actionlab.data.datasets import DATASETS
from actionlab.engine.distributed import (
    _choose_backend,
    first_slurm_host,
    get_dist_info,
    init_dist,
    is_distributed,
    slurm_environment,
)


@pytest.mark.parametrize('nodelist, host', [
    ('node7', 'node7'), ('gpu[07-09,12],cpu3', 'gpu07'), ('cpu3,gpu[1-2]', 'cpu3'),
    ('rack[2-3]-node[010-020]', 'rack2-node010'), ('a[5]', 'a5')])
def test_first_slurm_host(nodelist, host):
    assert first_slurm_host(nodelist) == host


def test_slurm_environment():
    env = {'SLURM_PROCID': '5', 'SLURM_NTASKS': '8', 'SLURM_LOCALID': '1', 'SLURM_NODELIST': 'gpu[3-4]'}
    assert slurm_environment(env) == {'MASTER_ADDR': 'gpu3', 'MASTER_PORT': '29500', 'WORLD_SIZE': '8',
                                      'RANK': '5', 'LOCAL_RANK': '1'}
    assert slurm_environment({**env, 'MASTER_PORT': '1234'})['MASTER_PORT'] == '1234'
    assert slurm_environment({**env, 'MASTER_PORT': '1234'}, port=29600)['MASTER_PORT'] == '29600'
    with pytest.raises(ValueError, match='SLURM_NTASKS, SLURM_NODELIST not set; start the processes with'):
        slurm_environment({'SLURM_PROCID': '0'})


def test_init_dist_errors(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(ValueError, match='RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT not set; start the '
                                           'processes with torchrun'):
        init_dist('pytorch')
    with pytest.raises(ValueError, match="launcher must be 'pytorch' or 'slurm'"):
        init_dist('mpi')
    if not torch.cuda.is_available():
        assert _choose_backend('nccl') == 'gloo' and _choose_backend(None) == 'gloo'
    assert get_dist_info() == (0, 1) and not is_distributed()


class PointsDataset(Dataset):
    """Two Gaussian clusters of 8-d points; ``evaluate`` gives top-1 accuracy."""

    def __init__(self, num_samples=16, test_mode=False):
        g = torch.Generator().manual_seed(1)
        self.labels = torch.arange(num_samples) % 2
        self.points = self.labels[:, None] * 2.0 + torch.randn(num_samples, 8, generator=g)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {'imgs': self.points[i], 'label': self.labels[i]}

    def evaluate(self, results, metrics='top_k_accuracy', logger=None, **kwargs):
        assert len(results) == len(self)  # gathered from every process, in dataset order
        correct = [int(r.argmax()) == int(label) for r, label in zip(results, self.labels)]
        return {'top1_acc': sum(correct) / len(correct)}


DATASETS.register_module(module=PointsDataset, force=True)


class MLP(nn.Module):
    """No BatchNorm or dropout: per-process batches give the same gradients as one large batch."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc_cls = nn.Linear(16, 2)

    def forward(self, imgs, label=None, return_loss=True, **kwargs):
        scores = self.fc_cls(F.relu(self.fc1(imgs)))
        return {'loss_cls': F.cross_entropy(scores, label)} if return_loss else scores


def config(work_dir, videos_per_gpu):
    return dict(
        data=dict(videos_per_gpu=videos_per_gpu, workers_per_gpu=0, train_dataloader=dict(shuffle=False),
                  val=dict(type='PointsDataset', num_samples=10),
                  test=dict(type='PointsDataset', num_samples=10)),
        optimizer=dict(type='SGD', lr=0.2, momentum=0.9), optimizer_config=dict(grad_clip=None),
        lr_config=dict(policy='step', step=[2]), total_epochs=3, checkpoint_config=dict(interval=1),
        log_config=dict(interval=1, hooks=[dict(type='TextLoggerHook')]),
        evaluation=dict(interval=1, save_best='auto'), seed=0, device='cpu', work_dir=str(work_dir))


def train(work_dir, videos_per_gpu, distributed):
    from actionlab.apis.train import train_model

    torch.manual_seed(0)
    runner = train_model(MLP(), PointsDataset(), config(work_dir, videos_per_gpu), distributed=distributed,
                         validate=True, test=dict(test_last=True, test_best=True), timestamp='run')
    return runner


def ddp_worker(rank, world_size, port, work_dir):
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    assert init_dist('pytorch', backend='nccl') == (rank, world_size)  # nccl falls back to gloo on CPU
    try:
        runner = train(work_dir, 2, distributed=True)
        state = {k: v.detach().clone() for k, v in runner.model.module.state_dict().items()}
        torch.save(state, os.path.join(work_dir, f'weights_{rank}.pth'))
    finally:
        torch.distributed.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_process_ddp_equals_one_process(tmp_path):
    """2 processes x 2 samples per batch == 1 process x 4 (16 samples, 3 epochs, validation and
    test of the last and best checkpoints gathered over both processes)."""
    mp.spawn(ddp_worker, args=(2, free_port(), str(tmp_path / 'ddp')), nprocs=2, join=True)
    single = train(tmp_path / 'single', 4, distributed=False)

    reference = single.model.state_dict()
    for rank in range(2):
        weights = torch.load(tmp_path / 'ddp' / f'weights_{rank}.pth', weights_only=True)
        for key, value in reference.items():
            torch.testing.assert_close(weights[key], value, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(reference['fc1.weight'], MLP().fc1.weight)  # training moved them

    ddp_files = sorted(p.name for p in (tmp_path / 'ddp').iterdir() if not p.name.startswith('.'))
    assert [n for n in ddp_files if n.startswith('epoch_')] == ['epoch_1.pth', 'epoch_2.pth', 'epoch_3.pth']
    assert {'last_pred.pkl', 'best_pred.pkl', 'run.log', 'run.log.json'} <= set(ddp_files)
    records = {}
    for name in ('ddp', 'single'):
        lines = (tmp_path / name / 'run.log.json').read_text().splitlines()
        records[name] = [json.loads(line) for line in lines[1:]]
    train_iters = [(r['epoch'], r['iter']) for r in records['ddp'] if r['mode'] == 'train']
    assert train_iters == [(e, i) for e in (1, 2, 3) for i in (1, 2, 3, 4)]  # 16 samples / (2 x 2)
    # the logged losses are averaged over the processes: the single run's values
    for ddp, one in zip(records['ddp'], records['single'], strict=True):
        assert ddp['mode'] == one['mode']
        for key in ('loss', 'top1_acc'):
            if key in one:
                assert ddp[key] == pytest.approx(one[key], abs=2e-4), (ddp, one)

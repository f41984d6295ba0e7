"""TensorBoard and W&B logger hooks, against stand-ins for the two libraries."""
import sys
import types

import pytest

from actionlab.engine.hooks import EvalHook, TensorboardLoggerHook, WandbLoggerHook


def test_missing_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorboard', None)  # makes the import fail
    monkeypatch.setitem(sys.modules, 'wandb', None)
    with pytest.raises(ImportError, match=r'TensorboardLoggerHook needs the \'tensorboard\' package.*'
                                          r'pip install "actionlab\[tensorboard\]"'):
        TensorboardLoggerHook()
    with pytest.raises(ImportError, match=r'pip install "actionlab\[wandb\]"'):
        WandbLoggerHook()


def run(tmp_path, make_runner, make_loader, toy_dataset, hook_cfg):
    runner = make_runner(tmp_path, max_epochs=2, timestamp='run')
    runner.register_training_hooks(dict(policy='step', step=[1]), {}, None,
                                   dict(interval=2, hooks=[dict(type='TextLoggerHook'), hook_cfg]))
    runner.register_hook(EvalHook(make_loader(toy_dataset(8), shuffle=False), save_best=None), 'LOW')
    runner.run([make_loader()], [('train', 1)])  # 4 iterations per epoch
    return runner


def test_tensorboard_scalars(tmp_path, make_runner, make_loader, toy_dataset, monkeypatch):
    writers = []

    class SummaryWriter:
        def __init__(self, log_dir):
            self.log_dir, self.scalars, self.closed = log_dir, [], False
            writers.append(self)

        def add_scalar(self, tag, value, step):
            self.scalars.append((tag, value, step))

        def add_text(self, tag, value, step):
            raise AssertionError('no text values are logged here')

        def close(self):
            self.closed = True

    fake = types.ModuleType('torch.utils.tensorboard')
    fake.SummaryWriter = SummaryWriter
    monkeypatch.setitem(sys.modules, 'tensorboard', types.ModuleType('tensorboard'))
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', fake)
    run(tmp_path, make_runner, make_loader, toy_dataset, dict(type='TensorboardLoggerHook'))

    (writer,) = writers
    assert writer.log_dir == str(tmp_path / 'tf_logs') and writer.closed
    tags = {}
    for tag, value, step in writer.scalars:
        tags.setdefault(tag, []).append((step, value))
    assert set(tags) == {'train/loss_cls', 'train/top1_acc', 'train/loss', 'val/top1_acc', 'learning_rate',
                         'momentum'}
    assert [step for step, _ in tags['train/loss']] == [2, 4, 6, 8]
    # evaluations follow each epoch, whose iterations are counted by then (mmcv's steps)
    assert [step for step, _ in tags['val/top1_acc']] == [5, 9]
    assert [step for step, _ in tags['learning_rate']] == [2, 4, 5, 6, 8, 9]
    assert [lr for _, lr in tags['learning_rate']] == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01])
    assert {value for _, value in tags['momentum']} == {0.9}


def test_wandb_logs_and_uploads(tmp_path, make_runner, make_loader, toy_dataset, monkeypatch):
    calls = []
    fake = types.ModuleType('wandb')
    fake.init = lambda **kwargs: calls.append(('init', kwargs))
    fake.log = lambda tags, **kwargs: calls.append(('log', tags, kwargs))
    fake.finish = lambda: calls.append(('finish',))
    fake.log_artifact = lambda artifact: calls.append(('artifact', sorted(artifact.files)))

    class Artifact:
        def __init__(self, name, type):
            self.files = []

        def add_file(self, path):
            self.files.append(path.rsplit('/', 1)[-1])

    fake.Artifact = Artifact
    monkeypatch.setitem(sys.modules, 'wandb', fake)
    run(tmp_path, make_runner, make_loader, toy_dataset,
        dict(type='WandbLoggerHook', init_kwargs=dict(project='actionlab-test')))

    assert calls[0] == ('init', {'project': 'actionlab-test'})
    logs = [c for c in calls if c[0] == 'log']
    assert [c[2] for c in logs[:2]] == [dict(step=2, commit=True), dict(step=4, commit=True)]
    assert set(logs[0][1]) == {'train/loss_cls', 'train/top1_acc', 'train/loss', 'learning_rate', 'momentum'}
    assert calls[-2] == ('artifact', ['run.log.json']) and calls[-1] == ('finish',)

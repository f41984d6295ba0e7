"""The ``actionlab`` command: one sub-command per module of this package.

Each module defines ``add_parser(subparsers)``, which registers its sub-command and
sets ``func`` to the function that runs it. Heavy imports (torch, models, data)
happen inside those functions so that ``actionlab --help`` stays fast.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from actionlab.cli import (
    analyze_logs,
    data,
    demo,
    eval_metric,
    infer,
    print_config,
    report_accuracy,
    test,
    train,
)
from actionlab.version import __version__

COMMANDS = (train, test, infer, print_config, data, analyze_logs, eval_metric, report_accuracy, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='actionlab',
        description='ActionLab: video understanding in pure PyTorch (MMAction2 0.x compatible).')
    parser.add_argument('--version', action='version', version=f'actionlab {__version__}')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND')
    for module in COMMANDS:
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, 'func', None):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format='%(asctime)s - %(levelname)s - %(message)s')
    try:
        try:
            status = args.func(args) or 0
        except BaseException:
            _abandon_process_group()
            raise
        if 'torch.distributed' in sys.modules:
            from actionlab.engine.distributed import close_dist

            close_dist()  # barrier, then leave: the processes leave together
        return status
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except _user_errors() as e:
        if os.environ.get('ACTIONLAB_DEBUG'):
            raise
        notes = ''.join(f'\n  {note}' for note in getattr(e, '__notes__', []))
        print(f'actionlab {args.command}: error: {type(e).__name__}: {e}{notes}\n'
              f'(set ACTIONLAB_DEBUG=1 to see the traceback)', file=sys.stderr)
        return 1


def _abandon_process_group() -> None:
    """After a failed command: leave the process group, if one was started, without a
    barrier (another process may be waiting in a different collective, or be gone).
    Looks only when ``torch.distributed`` is already imported (never imports torch)."""
    if 'torch.distributed' not in sys.modules:
        return
    dist = sys.modules['torch.distributed']
    try:
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()
    except Exception as e:  # the command's own error matters more
        logging.getLogger(__name__).warning('could not leave the process group: %s', e)


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that describe bad input (files, configs, arguments): reported as one
    message instead of a traceback."""
    from actionlab.config import ConfigError
    from actionlab.engine.checkpoint import CheckpointError
    from actionlab.registry import BuildError

    return (ConfigError, BuildError, CheckpointError, OSError, ValueError, KeyError,
            FloatingPointError, ImportError)

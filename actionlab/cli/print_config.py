"""``actionlab print-config CONFIG``: print a config with its bases and overrides merged."""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('print-config', help='print the fully merged config',
                              description=__doc__)
    p.add_argument('config', help='config file')
    p.add_argument('--cfg-options', '--options', nargs='+', action=DictAction, default={},
                   metavar='KEY=VALUE', help='override config keys before printing')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.config import Config

    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    return 0

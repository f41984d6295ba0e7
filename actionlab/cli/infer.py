"""``actionlab infer CONFIG CHECKPOINT INPUT``: classify one video (file or URL) or frame folder."""
from __future__ import annotations

import argparse


def add_parser(subparsers) -> None:
    from actionlab.config import DictAction

    p = subparsers.add_parser('infer', help='classify one video or frame folder',
                              description=__doc__)
    p.add_argument('config', help='config file (its data.test.pipeline is used)')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('input', help='video file, URL, or folder of frames')
    p.add_argument('--label-map', help='text file with one class name per line')
    p.add_argument('--top-k', type=int, default=5, help='how many classes to print (at most 5)')
    p.add_argument('--device', default='cpu', help='cpu, cuda or cuda:N')
    p.add_argument('--no-optimize', dest='optimize', action='store_false',
                   help='run the model as built, without optimize_for_inference (for debugging)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='override config keys')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from actionlab.apis.inference import inference_recognizer, init_recognizer, load_label_map

    labels = load_label_map(args.label_map) if args.label_map else None
    model = init_recognizer(args.config, args.checkpoint, device=args.device,
                            cfg_options=args.cfg_options, optimize=args.optimize)
    results = inference_recognizer(model, args.input)
    print(f'top-{min(args.top_k, len(results))} predictions for {args.input}:')
    for index, score in results[:args.top_k]:
        name = labels[index] if labels and index < len(labels) else str(index)
        print(f'  {name}: {score:.4f}')
    return 0

"""``actionlab demo video|long-video|webcam|gradcam``: the recognition demos.

  video       classify a video (or a frame folder) and write it with the label drawn
  long-video  sliding-window labels along a long video (annotated video and/or JSON)
  webcam      label a camera, video file or stream as it plays (annotated video or window)
  gradcam     Grad-CAM heatmaps of the predicted class, as a GIF or video
"""
from __future__ import annotations

import argparse


def _common(p: argparse.ArgumentParser, optimize: bool = True) -> None:
    from actionlab.config import DictAction

    p.add_argument('config', help='config file (its data.test.pipeline is used)')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--device', default=None, help='cpu, cuda or cuda:N (default: cuda:0 if available)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, default={}, metavar='KEY=VALUE',
                   help='override config keys')
    if optimize:
        p.add_argument('--no-optimize', dest='optimize', action='store_false',
                       help='run the model as built, without optimize_for_inference (for debugging)')


def _resolution(p: argparse.ArgumentParser, default_algorithm: str) -> None:
    p.add_argument('--target-resolution', nargs=2, type=int, metavar=('W', 'H'),
                   help='resize the output frames to W x H (-1 for one side keeps the aspect ratio)')
    p.add_argument('--resize-algorithm', default=default_algorithm,
                   help=f'neighbor, bilinear, bicubic, area or lanczos (default: {default_algorithm})')


def add_parser(subparsers) -> None:
    p = subparsers.add_parser('demo', help='recognition demos (video, long video, webcam, Grad-CAM)',
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    demos = p.add_subparsers(dest='demo', metavar='DEMO', required=True)

    v = demos.add_parser('video', help='classify one video and draw the label on it')
    _common(v)
    v.add_argument('video', help='video file or URL, or a frame folder with --use-frames')
    v.add_argument('label', help='label map: one class name per line')
    v.add_argument('--use-frames', action='store_true', help='the input is a folder of frames')
    v.add_argument('--out-filename', help='write the annotated video here (.mp4, .gif, ...)')
    v.add_argument('--fps', type=float, default=None,
                   help='frame rate of the output (default: the video\'s; 30 for frames)')
    v.add_argument('--font-scale', type=float, default=0.5, help='size of the label text')
    v.add_argument('--font-color', default='white', help='label colour: a name, #rrggbb or r,g,b')
    _resolution(v, 'bicubic')
    v.set_defaults(func=run_video)

    lv = demos.add_parser('long-video', help='sliding-window labels along a long video')
    _common(lv)
    lv.add_argument('video', help='video file or URL')
    lv.add_argument('label', help='label map: one class name per line')
    lv.add_argument('out_file', help='annotated video (.mp4, ...) or .json of the per-window labels')
    lv.add_argument('--out-json', help='also write the per-window labels to this .json file')
    lv.add_argument('--input-step', type=int, default=1, help='use every N-th frame (default: 1)')
    lv.add_argument('--threshold', type=float, default=0.01, help='show labels scoring at least this')
    lv.add_argument('--stride', type=float, default=0,
                    help='predict every stride x window frames (0: at every frame)')
    lv.add_argument('--font-scale', type=float, default=1, help='size of the label text')
    lv.add_argument('--label-color', default='white', help='colour of the labels')
    lv.add_argument('--msg-color', default='gray', help='colour of the message shown before the first '
                    'prediction')
    lv.set_defaults(func=run_long_video)

    w = demos.add_parser('webcam', help='label a camera, video file or stream as it plays')
    _common(w)
    w.add_argument('label', help='label map: one class name per line')
    w.add_argument('--camera-id', default='0', help='camera index, video file or stream URL (default: 0)')
    w.add_argument('--out-filename', help='write the annotated stream here (.mp4, .gif, ...)')
    w.add_argument('--show', action='store_true', help='show the annotated stream in a window '
                   '(needs OpenCV with GUI support and a display; Esc or q quits)')
    w.add_argument('--threshold', type=float, default=0.01, help='show labels scoring at least this')
    w.add_argument('--average-size', type=int, default=1,
                   help='average the scores of the last N windows (default: 1)')
    w.add_argument('--inference-fps', type=float, default=4,
                   help='predictions per second of stream time, at most (0: every frame)')
    w.add_argument('--drawing-fps', type=float, default=20,
                   help='frames shown per second, at most, with --show (0: no limit)')
    w.add_argument('--font-scale', type=float, default=1, help='size of the label text')
    w.set_defaults(func=run_webcam)

    g = demos.add_parser('gradcam', help='Grad-CAM heatmaps of the predicted class')
    _common(g, optimize=False)
    g.add_argument('video', help='video file or URL, or a frame folder with --use-frames')
    g.add_argument('--use-frames', action='store_true', help='the input is a folder of frames')
    g.add_argument('--target-layer-name', default='backbone/layer4/1/relu',
                   help='layer to explain, e.g. backbone/layer4/1/relu (default)')
    g.add_argument('--out-filename', help='write the heatmap frames here (.gif, .mp4, ...)')
    g.add_argument('--fps', type=float, default=5, help='frame rate of the output (default: 5)')
    g.add_argument('--alpha', type=float, default=0.5, help='heatmap opacity (default: 0.5)')
    g.add_argument('--colormap', default='viridis', help='OpenCV colormap name (default: viridis)')
    _resolution(g, 'bilinear')
    g.set_defaults(func=run_gradcam)


def _model(args: argparse.Namespace):
    import torch

    from actionlab.apis.inference import init_recognizer

    device = args.device or ('cuda:0' if torch.cuda.is_available() else 'cpu')
    return init_recognizer(args.config, args.checkpoint, device=device, cfg_options=args.cfg_options,
                           optimize=getattr(args, 'optimize', False))


def run_video(args: argparse.Namespace) -> int:
    from actionlab.apis.demo import video_demo
    from actionlab.apis.inference import load_label_map

    results = video_demo(_model(args), args.video, load_label_map(args.label), out_filename=args.out_filename,
                         use_frames=args.use_frames, fps=args.fps, font_scale=args.font_scale,
                         font_color=args.font_color, target_resolution=args.target_resolution,
                         resize_algorithm=args.resize_algorithm)
    print('The top-5 labels with corresponding scores are:')
    for name, score in results:
        print(f'{name}: {score:.4f}')
    if args.out_filename:
        print(f'annotated video written to {args.out_filename}')
    return 0


def run_long_video(args: argparse.Namespace) -> int:
    from actionlab.apis.demo import long_video_demo
    from actionlab.apis.inference import load_label_map

    records = long_video_demo(_model(args), args.video, load_label_map(args.label), out_file=args.out_file,
                              out_json=args.out_json, input_step=args.input_step,
                              threshold=args.threshold, stride=args.stride, font_scale=args.font_scale,
                              label_color=args.label_color, msg_color=args.msg_color)
    print(f'{len(records)} windows labelled; results written to '
          f'{", ".join(p for p in (args.out_file, args.out_json) if p)}')
    return 0


def run_webcam(args: argparse.Namespace) -> int:
    from actionlab.apis.demo import check_display, webcam_demo
    from actionlab.apis.inference import load_label_map

    if args.show:
        try:
            check_display()
        except RuntimeError as e:
            raise SystemExit(f'actionlab demo webcam: {e}') from None
    if not args.out_filename and not args.show:
        print('neither --out-filename nor --show: printing the predictions only')
    records = webcam_demo(_model(args), args.camera_id, load_label_map(args.label),
                          out_filename=args.out_filename, show=args.show, threshold=args.threshold,
                          average_size=args.average_size, inference_fps=args.inference_fps,
                          drawing_fps=args.drawing_fps, font_scale=args.font_scale)
    for record in records:
        labels = ', '.join(f'{name} {score:.2f}' for name, score in record['labels'])
        print(f'frame {record["frame"]}: {labels or "(nothing above the threshold)"}')
    if args.out_filename:
        print(f'annotated stream written to {args.out_filename}')
    return 0


def run_gradcam(args: argparse.Namespace) -> int:
    from actionlab.apis.demo import gradcam_demo

    frames, scores = gradcam_demo(_model(args), args.video, args.target_layer_name,
                                  out_filename=args.out_filename, use_frames=args.use_frames,
                                  fps=args.fps, target_resolution=args.target_resolution,
                                  resize_algorithm=args.resize_algorithm, alpha=args.alpha,
                                  colormap=args.colormap)
    print(f'Grad-CAM of class {int(scores.argmax())} (score {scores.max():.4f}) on {len(frames)} frames'
          + (f', written to {args.out_filename}' if args.out_filename else ''))
    return 0

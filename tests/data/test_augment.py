"""Spatial transforms and Normalize: output sizes, crop boxes, pixel values."""
from __future__ import annotations

import random
import sys
import types

import cv2
import numpy as np
import pytest
import torch

from actionlab.data.transforms import (
    TRANSFORMS,
    CenterCrop,
    ColorJitter,
    Compose,
    Flip,
    FormatShape,
    Fuse,
    Imgaug,
    MultiGroupCrop,
    MultiScaleCrop,
    Normalize,
    PytorchVideoTrans,
    RandomCrop,
    RandomRescale,
    RandomResizedCrop,
    Resize,
    TenCrop,
    ThreeCrop,
    TorchvisionTrans,
)


def clip(n=3, h=48, w=64, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)


def results_of(imgs, **extra):
    return dict(imgs=imgs, modality='RGB', **extra)


@pytest.mark.parametrize('scale, keep_ratio, size', [
    ((-1, 32), True, (43, 32)),      # short edge 32: 64 * 32/48 = 42.67 -> int(42.67 + 0.5)
    ((32, -1), True, (43, 32)),
    ((100, 24), True, (32, 24)),     # fit in long 100 / short 24: factor min(100/64, 24/48)
    ((40, 1000), True, (53, 40)),    # factor min(1000/64, 40/48) = 0.833
    (0.5, True, (32, 24)),
    ((30, 20), False, (30, 20)),
    ([30, 20], False, (30, 20)),     # lists from JSON/YAML configs
])
def test_resize_sizes(scale, keep_ratio, size):
    imgs = clip()
    out = Resize(scale, keep_ratio=keep_ratio)(results_of(imgs))
    w, h = size
    assert out['imgs'].shape == (3, h, w, 3) and out['img_shape'] == (h, w)
    assert np.allclose(out['scale_factor'], [w / 64, h / 48])
    assert np.array_equal(out['imgs'][1], cv2.resize(imgs[1], (w, h),
                                                     interpolation=cv2.INTER_LINEAR))


def test_resize_accumulates_scale_factor_and_moves_boxes_and_keypoints():
    res = results_of(clip(), gt_bboxes=np.array([[8., 8., 32., 24.]]),
                     keypoint=np.array([[[[10., 20.]]]]))
    res = Resize((32, 24), keep_ratio=False, interpolation='nearest')(res)
    res = Resize(2.0)(res)
    assert res['img_shape'] == (48, 64)
    assert np.allclose(res['scale_factor'], [1, 1])
    assert np.allclose(res['gt_bboxes'], [[8, 8, 32, 24]])
    assert np.allclose(res['keypoint'], [[[[10, 20]]]])


def test_resize_argument_errors():
    with pytest.raises(TypeError, match='scale must be a float factor or a pair'):
        Resize(256)
    with pytest.raises(ValueError, match=r'keep_ratio=False needs scale=\(w, h\)'):
        Resize((-1, 256), keep_ratio=False)
    with pytest.raises(ValueError, match='interpolation must be one of'):
        Resize((32, 32), interpolation='fancy')


def test_random_rescale_short_edge():
    np.random.seed(0)
    out = RandomRescale((20, 30))(results_of(clip()))
    np.random.seed(0)
    short = np.random.randint(20, 31)
    assert out['short_edge'] == short and out['img_shape'][0] == short


def test_center_crop_box_and_pixels():
    imgs = clip(h=48, w=64)
    out = CenterCrop((40, 30))(results_of(list(imgs)))  # a list of frames is accepted
    assert out['crop_bbox'].tolist() == [12, 9, 52, 39]
    assert np.array_equal(out['imgs'], imgs[:, 9:39, 12:52])
    assert out['img_shape'] == (30, 40)
    assert np.allclose(out['crop_quadruple'], [12 / 64, 9 / 48, 40 / 64, 30 / 48])
    out = CenterCrop(16)(out)  # crop_quadruple composes with the previous crop
    assert np.allclose(out['crop_quadruple'], [(12 + 12) / 64, (9 + 7) / 48, 16 / 64, 16 / 48])
    with pytest.raises(ValueError, match='does not fit'):
        CenterCrop(80)(results_of(imgs))


def test_random_crop_draws_like_mmaction2():
    imgs = clip(h=48, w=64)
    np.random.seed(4)
    out = RandomCrop(32)(results_of(imgs, gt_bboxes=np.array([[0., 0., 60., 40.]])))
    np.random.seed(4)
    y = np.random.randint(0, 16)
    x = np.random.randint(0, 32)
    assert out['crop_bbox'].tolist() == [x, y, x + 32, y + 32]
    assert np.array_equal(out['imgs'], imgs[:, y:y + 32, x:x + 32])
    assert np.allclose(out['gt_bboxes'], [[0, 0, min(60 - x, 31), min(40 - y, 31)]])


def test_random_resized_crop_box():
    img_shape = (48, 64)
    np.random.seed(1)
    random.seed(1)
    box = RandomResizedCrop.get_crop_bbox(img_shape, (0.08, 1.0), (3 / 4, 4 / 3))
    np.random.seed(1)
    random.seed(1)
    ars = np.exp(np.random.uniform(np.log(3 / 4), np.log(4 / 3), size=10))
    areas = np.random.uniform(0.08, 1.0, size=10) * 48 * 64
    ws = np.round(np.sqrt(areas * ars)).astype(int)
    hs = np.round(np.sqrt(areas / ars)).astype(int)
    i = next(i for i in range(10) if ws[i] <= 64 and hs[i] <= 48)
    x, y = random.randint(0, 64 - ws[i]), random.randint(0, 48 - hs[i])
    assert box == (x, y, x + ws[i], y + hs[i])
    # an impossible area falls back to the centred square
    assert RandomResizedCrop.get_crop_bbox((10, 100), (1.0, 1.0), (0.01, 0.01)) == (45, 0, 55, 10)
    out = RandomResizedCrop(area_range=[0.5, 0.5], aspect_ratio_range=[1.0, 1.0])(
        results_of(clip(h=40, w=40)))
    assert out['img_shape'] == (28, 28)  # round(sqrt(800))
    with pytest.raises(ValueError, match='area_range'):
        RandomResizedCrop(area_range=(0.5, 2.0))


def test_multi_scale_crop_fixed_and_random_positions():
    imgs = clip(h=48, w=64)
    random.seed(3)
    out = MultiScaleCrop(32, scales=(1, 0.75), num_fixed_crops=13)(results_of(imgs))
    random.seed(3)
    sizes = [48, 36]
    candidates = [[w, h] for i, h in enumerate(sizes) for j, w in enumerate(sizes)]
    w, h = random.choice(candidates)
    w_step, h_step = (64 - w) // 4, (48 - h) // 4
    offsets = [(0, 0), (4, 0), (0, 4), (4, 4), (2, 2), (0, 2), (4, 2), (2, 4), (2, 0),
               (1, 1), (3, 1), (1, 3), (3, 3)]
    i, j = random.choice(offsets)
    x, y = i * w_step, j * h_step
    assert out['crop_bbox'].tolist() == [x, y, x + w, y + h]
    assert np.array_equal(out['imgs'], imgs[:, y:y + h, x:x + w])
    # a crop size within 2 px of input_size snaps to it: 48 * 0.66 = 31 -> 32
    random.seed(0)
    out = MultiScaleCrop(32, scales=(0.66,), random_crop=True)(results_of(imgs))
    assert out['img_shape'] == (32, 32) and out['scales'] == (0.66,)
    with pytest.raises(ValueError, match='num_fixed_crops must be 5 or 13'):
        MultiScaleCrop(32, num_fixed_crops=7)


def test_three_crop_boxes():
    imgs = clip(n=2, h=32, w=64)
    out = ThreeCrop(32)(results_of(imgs))
    assert out['imgs'].shape == (6, 32, 32, 3) and out['img_shape'] == (32, 32)
    assert out['crop_bbox'][::2].tolist() == [[0, 0, 32, 32], [32, 0, 64, 32], [16, 0, 48, 32]]
    assert np.array_equal(out['imgs'][2:4], imgs[:, :, 32:64])  # crop-major: right crop second
    tall = ThreeCrop((32, 40))(results_of(clip(n=1, h=64, w=32)))
    assert tall['crop_bbox'].tolist() == [[0, 0, 32, 40], [0, 24, 32, 64], [0, 12, 32, 52]]
    with pytest.raises(ValueError, match='must span one whole side'):
        ThreeCrop(30)(results_of(imgs))


def test_ten_crop_boxes_and_flips():
    imgs = clip(n=2, h=48, w=64)
    out = TenCrop((32, 24))(results_of(imgs))
    assert out['imgs'].shape == (20, 24, 32, 3)
    boxes = out['crop_bbox'][::4].tolist()  # 2 frames x (crop, flipped crop) per box
    assert boxes == [[0, 0, 32, 24], [32, 0, 64, 24], [0, 24, 32, 48], [32, 24, 64, 48],
                     [16, 12, 48, 36]]
    assert np.array_equal(out['imgs'][0:2], imgs[:, 0:24, 0:32])
    assert np.array_equal(out['imgs'][2:4], imgs[:, 0:24, 0:32][:, :, ::-1])


def test_flip_pixels_labels_boxes_and_keypoints():
    imgs = clip(n=2)
    res = results_of(imgs, label=3, gt_bboxes=np.array([[4., 2., 20., 10.]]),
                     keypoint=np.array([[[[5., 1.], [0., 0.], [60., 7.]]]]),
                     keypoint_score=np.array([[[0.1, 0.2, 0.3]]]))
    out = Flip(flip_ratio=1.0, flip_label_map={'3': 4}, left_kp=[0], right_kp=[2])(res)
    assert out['flip'] and out['flip_direction'] == 'horizontal' and out['label'] == 4
    assert np.array_equal(out['imgs'], imgs[:, :, ::-1])
    assert out['gt_bboxes'].tolist() == [[44., 2., 60., 10.]]
    assert out['keypoint'].tolist() == [[[[4., 7.], [0., 0.], [59., 1.]]]]
    assert out['keypoint_score'].tolist() == [[[0.3, 0.2, 0.1]]]
    out = Flip(flip_ratio=1.0, direction='vertical')(results_of(imgs))
    assert np.array_equal(out['imgs'], imgs[:, ::-1])
    out = Flip(flip_ratio=0.0)(results_of(imgs, label=3))
    assert not out['flip'] and out['label'] == 3 and out['imgs'] is imgs


def test_flip_probability_uses_numpy_draws():
    np.random.seed(0)
    flips = [Flip(0.5)(results_of(clip(n=1)))['flip'] for _ in range(6)]
    np.random.seed(0)
    assert flips == [bool(np.random.rand() < 0.5) for _ in range(6)]


def test_flip_inverts_x_flow():
    flow = np.random.default_rng(0).integers(0, 256, size=(4, 8, 8), dtype=np.uint8)
    out = Flip(flip_ratio=1.0)(dict(imgs=flow, modality='Flow'))
    assert np.array_equal(out['imgs'][0], 255 - flow[0][:, ::-1])
    assert np.array_equal(out['imgs'][1], flow[1][:, ::-1])
    with pytest.raises(ValueError, match='only horizontal'):
        Flip(flip_ratio=1.0, direction='vertical')(dict(imgs=flow, modality='Flow'))


def test_normalize_rgb_and_to_bgr():
    imgs = clip(n=2, h=4, w=4)
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    out = Normalize(mean, std)(results_of(imgs))
    assert out['imgs'].dtype == np.float32
    assert np.allclose(out['imgs'], (imgs - np.array(mean)) / np.array(std), atol=1e-5)
    out = Normalize(mean, std, to_bgr=True)(results_of(imgs))
    assert np.allclose(out['imgs'], (imgs[..., ::-1] - np.array(mean)) / np.array(std),
                       atol=1e-5)
    assert out['img_norm_cfg']['to_bgr'] is True
    with pytest.raises(ValueError, match='std must not contain 0'):
        Normalize([0, 0, 0], [1, 0, 1])


def test_normalize_tables_equal_the_arithmetic_for_every_level():
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    levels = np.arange(256, dtype=np.uint8)
    imgs = np.stack([levels, levels[::-1], np.roll(levels, 7)], axis=-1).reshape(2, 8, 16, 3)
    def table_of(frames):
        return Normalize(mean, std)(results_of(frames.copy()))['imgs']

    for to_bgr in (False, True):
        table = Normalize(mean, std, to_bgr=to_bgr)(results_of(imgs.copy()))['imgs']
        arithmetic = Normalize(mean, std, to_bgr=to_bgr)(results_of(imgs.astype(np.float32)))['imgs']
        assert table.shape == imgs.shape and table.dtype == np.float32
        np.testing.assert_array_equal(table, arithmetic)
    # the frames are stored channel-planar, so NCHW formatting needs no copy
    results = FormatShape('NCHW')(Normalize(mean, std)(results_of(imgs.copy())))
    assert results['imgs'].shape == (2, 3, 8, 16) and results['imgs'].base is not None
    # steps after Normalize take its channel-planar frames like any others
    flipped = Flip(flip_ratio=1)(Normalize(mean, std)(results_of(imgs.copy())))['imgs']
    np.testing.assert_array_equal(flipped, table_of(imgs)[:, :, ::-1])


def test_normalize_flow_stacks_x_and_y():
    flow = np.arange(4 * 2 * 2, dtype=np.uint8).reshape(4, 2, 2) * 10
    out = Normalize([128, 100], [2, 4], adjust_magnitude=True)(
        dict(imgs=flow, modality='Flow', scale_factor=np.array([0.5, 2.0])))
    assert out['imgs'].shape == (2, 2, 2, 2)
    assert np.allclose(out['imgs'][..., 0], (flow[0::2] - 128.) / 2 * 0.5)
    assert np.allclose(out['imgs'][..., 1], (flow[1::2] - 100.) / 4 * 2.0)


def test_transforms_build_from_configs_with_lists():
    step = TRANSFORMS.build(dict(type='MultiScaleCrop', input_size=[32, 24], scales=[1, 0.875]))
    assert step.input_size == (32, 24) and step.scales == (1, 0.875)
    assert repr(step).startswith('MultiScaleCrop(input_size=(32, 24), scales=(1, 0.875)')


def test_lazy_crops_then_fuse_equal_eager_crops():
    imgs = clip(n=2)
    steps = [dict(type='RandomCrop', size=40), dict(type='CenterCrop', crop_size=[24, 16]),
             dict(type='MultiScaleCrop', input_size=16, scales=(1, 0.875), random_crop=True)]
    np.random.seed(4)
    random.seed(4)
    eager = Compose(steps)(results_of(imgs))
    np.random.seed(4)
    random.seed(4)
    lazy = Compose([dict(s, lazy=True) for s in steps])(results_of(imgs))
    assert lazy['imgs'] is imgs and lazy['img_shape'] == eager['img_shape']
    assert np.array_equal(lazy['crop_quadruple'], eager['crop_quadruple'])
    x1, y1, x2, y2 = lazy['lazy']['crop_bbox']
    fused = Fuse()(lazy)
    assert 'lazy' not in fused and np.array_equal(fused['imgs'], eager['imgs'])
    assert (x2 - x1, y2 - y1) == eager['img_shape'][::-1]


def test_lazy_resize_crop_resize_flip_fuse_in_one_pass():
    imgs = clip(n=2)  # 48 x 64
    res = Compose([dict(type='Resize', scale=(-1, 24), lazy=True),       # -> 32 x 24
                   dict(type='CenterCrop', crop_size=16, lazy=True),     # box 8, 4, 24, 20
                   dict(type='Resize', scale=(8, 8), keep_ratio=False, lazy=True,
                        interpolation='area'),
                   dict(type='Flip', flip_ratio=1.0, lazy=True)])(results_of(imgs))
    assert res['img_shape'] == (8, 8) and res['flip'] and res['imgs'] is imgs
    assert np.allclose(res['scale_factor'], [0.25, 0.25])
    assert res['lazy']['crop_bbox'].tolist() == [16, 8, 48, 40]  # in original pixels
    out = Fuse()(res)['imgs']
    for i in range(2):
        expected = cv2.resize(imgs[i, 8:40, 16:48], (8, 8), interpolation=cv2.INTER_AREA)
        assert np.array_equal(out[i], expected[:, ::-1])


def test_lazy_flip_of_flow_inverts_x_in_fuse():
    flow = np.random.default_rng(1).integers(0, 256, size=(2, 8, 8), dtype=np.uint8)
    out = Fuse()(Flip(flip_ratio=1.0, lazy=True)(dict(imgs=flow, modality='Flow')))['imgs']
    assert np.array_equal(out[0], 255 - flow[0, :, ::-1])
    assert np.array_equal(out[1], flow[1, :, ::-1])


def test_lazy_mode_errors():
    res = RandomCrop(16, lazy=True)(results_of(clip()))
    with pytest.raises(ValueError, match='pending lazy operations; put Fuse'):
        Resize((8, 8), keep_ratio=False)(res)
    with pytest.raises(ValueError, match='pending lazy operations'):
        ThreeCrop(16)(res)
    flipped = Flip(1.0, lazy=True)(res)
    with pytest.raises(ValueError, match='after a lazy Flip'):
        CenterCrop(8, lazy=True)(flipped)
    with pytest.raises(ValueError, match='cannot move "keypoint"'):
        Resize(0.5, lazy=True)(results_of(clip(), keypoint=np.zeros((1, 3, 2, 2))))
    with pytest.raises(ValueError, match='no lazy operations'):
        Fuse()(results_of(clip()))


def test_multi_group_crop_boxes():
    imgs = clip(n=2)
    random.seed(3)
    out = MultiGroupCrop(crop_size=(20, 10), groups=3)(results_of(imgs))
    random.seed(3)
    corners = [(random.randint(0, 44), random.randint(0, 38)) for _ in range(3)]
    assert out['imgs'].shape == (6, 10, 20, 3) and out['img_shape'] == (10, 20)
    for g, (x, y) in enumerate(corners):
        assert np.array_equal(out['imgs'][2 * g:2 * g + 2], imgs[:, y:y + 10, x:x + 20])
        assert out['crop_bbox'][2 * g].tolist() == [x, y, x + 20, y + 10]
    with pytest.raises(ValueError, match='groups must be a positive int'):
        MultiGroupCrop(8, groups=0)
    with pytest.raises(ValueError, match='exceeds frames'):
        MultiGroupCrop(100, groups=1)(results_of(imgs))


def _gray(img):
    return 0.2989 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]


def test_color_jitter_adjustments_match_their_definitions():
    imgs = clip(n=2, h=6, w=5)
    f = imgs.astype(np.float32)
    out = ColorJitter(brightness=(1.2, 1.2), contrast=0, saturation=0, hue=0)(results_of(imgs))
    assert out['imgs'].dtype == np.uint8
    assert np.array_equal(out['imgs'], np.clip(f * 1.2, 0, 255).astype(np.uint8))
    out = ColorJitter(brightness=0, contrast=(0.5, 0.5), saturation=0, hue=0)(results_of(imgs))
    means = [_gray(frame).mean() for frame in f]  # each frame blends with its own grey level
    expected = np.stack([0.5 * frame + 0.5 * m for frame, m in zip(f, means)])
    assert np.abs(out['imgs'].astype(int) - expected.astype(np.uint8)).max() <= 1
    out = ColorJitter(brightness=0, contrast=0, saturation=(0., 0.), hue=0)(results_of(imgs))
    expected = np.repeat(_gray(f)[..., None], 3, axis=-1).astype(np.uint8)
    assert np.abs(out['imgs'].astype(int) - expected).max() <= 1
    out = ColorJitter(brightness=0, contrast=0, saturation=0, hue=(0.1, 0.1))(results_of(imgs))
    hsv = cv2.cvtColor(imgs[1], cv2.COLOR_RGB2HSV).astype(int)
    hsv[..., 0] = (hsv[..., 0] + 25) % 180  # int(0.1 * 255)
    assert np.array_equal(out['imgs'][1], cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB))


def test_color_jitter_order_and_draws_are_seeded():
    np.random.seed(0)
    jitter = ColorJitter()
    np.random.seed(0)
    assert jitter.fn_idx.tolist() == np.random.permutation(4).tolist()
    assert jitter.brightness == (0.5, 1.5) and jitter.hue == (-0.1, 0.1)
    np.random.seed(1)
    first = jitter(results_of(clip()))['imgs']
    np.random.seed(1)
    assert np.array_equal(first, jitter(results_of(clip()))['imgs'])
    with pytest.raises(ValueError, match='brightness must give a range within'):
        ColorJitter(brightness=1.5)
    assert repr(jitter).startswith('ColorJitter(brightness=(0.5, 1.5), contrast=(0.5, 1.5)')


def test_optional_library_transforms_name_the_missing_package():
    with pytest.raises(ImportError, match="Imgaug needs the 'imgaug' package.*NumPy 2"):
        Imgaug('default')
    with pytest.raises(ImportError, match="TorchvisionTrans needs the 'torchvision' package"):
        TorchvisionTrans('RandomErasing')
    with pytest.raises(ImportError, match="PytorchVideoTrans needs the 'pytorchvideo' package"):
        PytorchVideoTrans('AugMix')
    with pytest.raises(ValueError, match='type must be one of AugMix'):
        PytorchVideoTrans('Blur')
    with pytest.raises(ImportError, match="PytorchVideoTrans needs the 'pytorchvideo' package"):
        Compose([dict(type='pytorchvideo.RandAugment', magnitude=7)])


@pytest.fixture
def fake_imgaug(monkeypatch):
    """A stand-in imgaug: Invert, and AddRandom whose deterministic copy adds one draw."""
    iaa = types.ModuleType('imgaug.augmenters')

    class Augmenter:
        def to_deterministic(self):
            return self

    class Sequential(Augmenter):
        def __init__(self, children):
            self.children = children

        def to_deterministic(self):
            return Sequential([c.to_deterministic() for c in self.children])

        def augment_image(self, img):
            for child in self.children:
                img = child.augment_image(img)
            return img

    class Invert(Augmenter):
        def augment_image(self, img):
            return 255 - img

    class AddRandom(Augmenter):
        def __init__(self, value=None):
            self.value = value

        def to_deterministic(self):
            return AddRandom(np.random.randint(1, 50))

        def augment_image(self, img):
            return img + np.uint8(self.value)

    iaa.Augmenter, iaa.Sequential, iaa.Invert = Augmenter, Sequential, Invert
    iaa.pillike = types.SimpleNamespace(AddRandom=AddRandom)
    package = types.ModuleType('imgaug')
    package.augmenters = iaa
    monkeypatch.setitem(sys.modules, 'imgaug', package)
    monkeypatch.setitem(sys.modules, 'imgaug.augmenters', iaa)
    return iaa


def test_imgaug_applies_one_deterministic_augmenter_to_all_frames(fake_imgaug):
    imgs = clip(n=3) // 2
    out = Imgaug([dict(type='Invert'), dict(type='AddRandom')])(results_of(imgs))['imgs']
    added = out[0] - (255 - imgs[0])
    assert len(np.unique(added)) == 1 and 1 <= added.flat[0] < 50
    assert np.array_equal(out, 255 - imgs + added.flat[0])
    assert len(Imgaug.default_transforms()[0]['children']) == 15
    with pytest.raises(ValueError, match="no augmenter named 'Blur'"):
        Imgaug([dict(type='Blur')])
    with pytest.raises(ValueError, match='only supports RGB'):
        Imgaug([dict(type='Invert')])(dict(imgs=imgs[..., 0], modality='Flow'))


def test_torchvision_trans_round_trips_the_clip(monkeypatch):
    module = types.ModuleType('torchvision.transforms')

    class Brighten:
        def __init__(self, amount):
            self.amount = amount

        def __call__(self, frames):
            assert frames.dtype == torch.uint8 and frames.shape[1] == 3  # (N, C, H, W)
            return frames.float() + self.amount

    module.Brighten = Brighten
    monkeypatch.setitem(sys.modules, 'torchvision', types.ModuleType('torchvision'))
    monkeypatch.setitem(sys.modules, 'torchvision.transforms', module)
    imgs = clip(n=2)
    # configs cannot repeat the key "type": they prefix the torchvision class name
    trans = Compose([dict(type='torchvision.Brighten', amount=100)]).transforms[0]
    assert isinstance(trans, TorchvisionTrans)
    out = trans(results_of(imgs))['imgs']
    assert out.dtype == np.uint8 and out.shape == imgs.shape
    assert np.array_equal(out, np.clip(imgs.astype(int) + 100, 0, 255))
    assert repr(trans) == "TorchvisionTrans(type='Brighten', **{'amount': 100})"
    with pytest.raises(ValueError, match="has no 'Blur'"):
        TorchvisionTrans('Blur')


def test_imgaug_builds_then_and_else_lists(fake_imgaug):
    class Sometimes(fake_imgaug.Augmenter):
        def __init__(self, p=0.5, then_list=None, else_list=None):
            self.p, self.then_list, self.else_list = p, then_list, else_list

        def augment_image(self, img):
            branch = self.then_list if self.p >= 0.5 else self.else_list
            return fake_imgaug.Sequential(branch or []).augment_image(img)

    fake_imgaug.Sometimes = Sometimes
    transform = Imgaug([dict(type='Sometimes', p=1., then_list=[dict(type='Invert')],
                             else_list=[dict(type='AddRandom', value=3)]),
                        dict(type='Sometimes', p=0., then_list=[dict(type='Invert')],
                             else_list=[dict(type='AddRandom', value=3)])])
    first, second = transform.aug.children
    assert [type(a).__name__ for a in first.then_list + first.else_list] == ['Invert', 'AddRandom']
    assert second.else_list[0].value == 3
    imgs = clip(n=2) // 2
    out = transform(results_of(imgs))['imgs']
    assert np.array_equal(out, 255 - imgs + np.uint8(3))
    with pytest.raises(ValueError, match='cannot move gt_bboxes'):
        transform(dict(results_of(imgs), gt_bboxes=np.zeros((1, 4), np.float32)))

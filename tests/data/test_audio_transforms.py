"""Audio transforms: reading wav files with PyAV, clip selection, amplification, mel
spectrograms against a direct computation, and the NCTF layout."""
from __future__ import annotations

import logging
import wave

import numpy as np
import pytest

from actionlab.data.transforms import (
    TRANSFORMS,
    AudioAmplify,
    AudioDecode,
    AudioDecodeInit,
    AudioFeatureSelector,
    Compose,
    FormatAudioShape,
    LoadAudioFeature,
    MelSpectrogram,
)
from actionlab.data.transforms.audio import load_audio, mel_spectrogram

RATE = 16000


@pytest.fixture(scope='module')
def stereo_wav(tmp_path_factory):
    """A 0.5 s stereo 16-bit wav: 440 Hz left, 880 Hz right; returns (path, left, right)."""
    t = np.arange(RATE // 2) / RATE
    left = (0.5 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    right = (0.25 * np.sin(2 * np.pi * 880 * t) * 32767).astype(np.int16)
    path = tmp_path_factory.mktemp('audio') / 'tone.wav'
    with wave.open(str(path), 'wb') as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(RATE)
        f.writeframes(np.stack([left, right], axis=1).tobytes())
    return path, left, right


def test_load_audio_is_the_channel_mean_in_minus_one_to_one(stereo_wav):
    path, left, right = stereo_wav
    audio = load_audio(path, RATE)
    expected = (left / 32768. + right / 32768.) / 2
    assert audio.dtype == np.float32 and audio.shape == (RATE // 2,)
    assert np.abs(audio - expected).max() < 1e-6
    half = load_audio(path, RATE // 2)
    assert abs(len(half) - RATE // 4) <= 32  # the resampler may keep a few samples of delay
    with pytest.raises(FileNotFoundError, match='audio file not found'):
        load_audio(path.with_name('nope.wav'), RATE)


def test_audio_decode_init_reads_or_pads(stereo_wav, tmp_path, caplog):
    path, _, _ = stereo_wav
    out = AudioDecodeInit()(dict(audio_path=str(path)))
    assert (out['length'], out['sample_rate']) == (RATE // 2, RATE)
    with caplog.at_level(logging.WARNING):
        out = AudioDecodeInit(sample_rate=100)(dict(audio_path=str(tmp_path / 'missing.wav')))
    assert out['audios'].tolist() == [0.] * 1000 and out['length'] == 1000  # 10 s of zeros
    assert 'missing.wav not found' in caplog.text
    np.random.seed(0)
    noise = AudioDecodeInit(sample_rate=100, pad_method='random')(
        dict(audio_path=str(tmp_path / 'missing.wav')))['audios']
    assert noise.min() >= -1 and noise.max() < 1 and noise.std() > 0.3
    with pytest.raises(ValueError, match="pad_method must be one of zero, random"):
        AudioDecodeInit(pad_method='edge')
    with pytest.raises(NotImplementedError, match="io_backend 'petrel'"):
        AudioDecodeInit(io_backend='petrel')


def test_audio_decode_cuts_each_clip_and_pads():
    audio = np.arange(1000, dtype=np.float32)
    results = dict(audios=audio, length=1000, total_frames=10, num_clips=2,
                   frame_inds=np.array([0, 1, 2, 5, 6, 7]))
    out = AudioDecode(fixed_length=250)(results)
    # clip 1: frames 0..2 -> samples round(1/10 * 1000) .. round(3/10 * 1000) = 100..300
    assert out['audios'].shape == (2, 250) and out['audios_shape'] == (2, 250)
    assert np.array_equal(out['audios'][0], np.concatenate([np.arange(100, 300), np.zeros(50)]))
    assert np.array_equal(out['audios'][1], np.concatenate([np.arange(600, 800), np.zeros(50)]))
    out = AudioDecode(fixed_length=150)(dict(results, audios=audio))
    assert np.array_equal(out['audios'][1], np.arange(600, 750))


def test_audio_features_load_and_select(tmp_path):
    features = np.arange(64 * 4, dtype=np.float32).reshape(64, 4)
    np.save(tmp_path / 'a.npy', features)
    np.savez(tmp_path / 'b.npz', spec=features)
    for name in ('a.npy', 'b.npz'):
        out = LoadAudioFeature()(dict(audio_path=str(tmp_path / name)))
        assert out['length'] == 64 and np.array_equal(out['audios'], features)
    out = LoadAudioFeature()(dict(audio_path=str(tmp_path / 'none.npy')))
    assert out['audios'].shape == (640, 80) and not out['audios'].any()
    out = AudioFeatureSelector(fixed_length=10)(dict(
        audios=features, length=64, total_frames=32, num_clips=1, frame_inds=np.arange(3, 9)))
    # frames 3..8 of 32 -> rows round(4/32 * 64) = 8 .. round(9/32 * 64) = 18, cut to 10
    assert np.array_equal(out['audios'][0], features[8:18])
    (tmp_path / 'bad.npy').write_text('not an array')
    with pytest.raises(OSError, match='cannot read audio features'):
        LoadAudioFeature()(dict(audio_path=str(tmp_path / 'bad.npy')))


def test_audio_amplify():
    out = AudioAmplify(1.5)(dict(audios=np.array([0.2, -0.4], np.float32)))
    assert np.allclose(out['audios'], [0.3, -0.6]) and out['amplify_ratio'] == 1.5
    with pytest.raises(TypeError, match='ratio must be a number'):
        AudioAmplify('2')


def _slaney_mel(freq):
    return freq / (200 / 3) if freq < 1000 else 15 + np.log(freq / 1000) * 27 / np.log(6.4)


def _slaney_hz(mel):
    return mel * 200 / 3 if mel < 15 else 1000 * np.exp((mel - 15) * np.log(6.4) / 27)


def reference_mel(signal, sr, n_fft, hop, n_mels):
    """Mel power spectrogram by the book: centred frames, explicit DFT, triangles."""
    padded = np.concatenate([np.zeros(n_fft // 2), signal, np.zeros(n_fft // 2)])
    window = np.array([0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft) for n in range(n_fft)])
    bins = np.arange(n_fft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(bins, np.arange(n_fft)) / n_fft)
    num_frames = 1 + (len(padded) - n_fft) // hop
    power = np.stack([np.abs(dft @ (padded[t * hop:t * hop + n_fft] * window)) ** 2
                      for t in range(num_frames)], axis=1)
    edges = [_slaney_hz(m) for m in np.linspace(0, _slaney_mel(sr / 2), n_mels + 2)]
    freqs = bins * sr / n_fft
    filters = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rise, fall = (freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)
        filters[m] = np.maximum(0, np.minimum(rise, fall)) * 2 / (hi - lo)
    return filters @ power, edges


def test_mel_spectrogram_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    signal = rng.uniform(-1, 1, 1000).astype(np.float32)
    ours = mel_spectrogram(signal, 8000, n_fft=128, hop_length=64, n_mels=20)
    expected, _ = reference_mel(signal.astype(np.float64), 8000, 128, 64, 20)
    assert ours.shape == expected.shape == (20, 16) and ours.dtype == np.float32
    assert np.allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_mel_spectrogram_transform_shapes_and_tone_band():
    t = np.arange(16000) / 16000
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    results = dict(audios=np.stack([tone, 0 * tone]), sample_rate=16000, num_clips=2)
    out = MelSpectrogram(window_size=32, step_size=16, n_mels=40, fixed_length=128)(results)
    assert out['audios'].shape == (2, 128, 40)
    _, edges = reference_mel(np.zeros(512), 16000, 512, 256, 40)
    band = int(np.argmax(out['audios'][0, 10]))
    assert edges[band] <= 1000 <= edges[band + 2]  # the 1 kHz tone falls in that filter
    assert not out['audios'][1].any()
    # 16000 samples with a hop of 256 give 63 frames; the last one is repeated up to 128
    assert np.array_equal(out['audios'][0, 62], out['audios'][0, 127])
    with pytest.raises(TypeError, match='n_mels must be a positive int'):
        MelSpectrogram(n_mels=8.5)


def test_raw_audio_pipeline_end_to_end(stereo_wav):
    path, _, _ = stereo_wav
    pipeline = Compose([
        dict(type='AudioDecodeInit'),
        dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=2, test_mode=True),
        dict(type='AudioDecode', fixed_length=4000),
        dict(type='AudioAmplify', ratio=1.5),
        dict(type='MelSpectrogram', fixed_length=16),
        dict(type='FormatAudioShape', input_format='NCTF'),
        dict(type='Collect', keys=['audios'], meta_keys=()),
    ])
    out = pipeline(dict(audio_path=str(path), total_frames=12, start_index=0))
    assert out['audios'].shape == (2, 1, 16, 80) and out['audios'].max() > 0
    assert repr(TRANSFORMS.build(dict(type='MelSpectrogram'))) == \
        'MelSpectrogram(window_size=32, step_size=16, n_mels=80, fixed_length=128)'


def test_format_audio_shape():
    out = FormatAudioShape('NCTF')(dict(audios=np.zeros((3, 5, 7))))
    assert out['audios'].shape == (3, 1, 5, 7) and out['input_shape'] == (3, 1, 5, 7)
    with pytest.raises(ValueError, match="input_format must be 'NCTF'"):
        FormatAudioShape('NCHW')

"""Audio transforms: load a waveform or pre-computed features, cut the part matching the
sampled frames, amplify, turn waveforms into mel spectrograms, and format for the model.

Waveforms are read with PyAV (FFmpeg), so no librosa or torchaudio is needed:
``load_audio`` decodes to float32 in [-1, 1], averages the channels to mono (as
``librosa.load`` does) and resamples with FFmpeg's resampler (librosa uses soxr/resampy,
so resampled values differ slightly; at the file's own rate they are identical).
``MelSpectrogram`` computes librosa's ``feature.melspectrogram`` with its defaults
(centred zero-padded frames, periodic Hann window, power 2, Slaney mel filters) in NumPy.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache

import av
import numpy as np

from actionlab.data.io import VideoReadError

from .base import TRANSFORMS, Transform
from .decoding import _check_io_backend

logger = logging.getLogger(__name__)

_PAD_METHODS = ('zero', 'random')


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 samples at ``sample_rate`` Hz."""
    try:
        container = av.open(str(path))
    except FileNotFoundError:
        raise FileNotFoundError(f'audio file not found: {path}') from None
    except av.FFmpegError as e:
        raise VideoReadError(f'cannot open audio file {path}: {e}') from None
    with container:
        if not container.streams.audio:
            raise VideoReadError(f'{path} has no audio stream')
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format='fltp', layout=stream.layout, rate=sample_rate)
        chunks = []
        try:
            for frame in container.decode(stream):
                chunks += [f.to_ndarray() for f in resampler.resample(frame)]
        except av.FFmpegError as e:
            raise VideoReadError(f'cannot decode audio file {path}: {e}') from None
        chunks += [f.to_ndarray() for f in resampler.resample(None)]
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks, axis=1).mean(axis=0, dtype=np.float32)


class _PaddedLoad(Transform):
    """Shared by the loaders: a missing file gives dummy data (some videos have no audio)."""

    def __init__(self, pad_method: str = 'zero'):
        if pad_method not in _PAD_METHODS:
            raise ValueError(f'{type(self).__name__}: pad_method must be one of '
                             f'{", ".join(_PAD_METHODS)}, got {pad_method!r}')
        self.pad_method = pad_method
        self._warned = False

    def _pad(self, shape, path: str, low: float) -> np.ndarray:
        level = logging.DEBUG if self._warned else logging.WARNING
        logger.log(level, '%s: %s not found; using %s padding of shape %s (later misses are '
                   'logged at DEBUG level)', type(self).__name__, path, self.pad_method, shape)
        self._warned = True
        if self.pad_method == 'zero':
            return np.zeros(shape, dtype=np.float32)
        return (np.random.rand(*np.atleast_1d(shape)) * (1 - low) + low).astype(np.float32)


@TRANSFORMS.register_module()
class AudioDecodeInit(_PaddedLoad):
    """Read the waveform of ``audio_path`` at ``sample_rate`` Hz into ``audios`` (1-D
    float32), with ``length`` (samples) and ``sample_rate``. A missing file gives 10 s of
    zeros (``pad_method='zero'``) or uniform noise in [-1, 1) (``'random'``)."""

    def __init__(self, io_backend: str = 'disk', sample_rate: int = 16000,
                 pad_method: str = 'zero', **kwargs):
        _check_io_backend('AudioDecodeInit', io_backend, kwargs)
        super().__init__(pad_method)
        self.io_backend = io_backend
        self.sample_rate = int(sample_rate)

    def __call__(self, results: dict) -> dict:
        path = results['audio_path']
        if os.path.exists(path):
            audio = load_audio(path, self.sample_rate)
        else:
            audio = self._pad(int(round(10.0 * self.sample_rate)), path, low=-1.0)
        results['length'] = audio.shape[0]
        results['sample_rate'] = self.sample_rate
        results['audios'] = audio
        return results


@TRANSFORMS.register_module()
class LoadAudioFeature(_PaddedLoad):
    """Load pre-computed features (T x F, e.g. log-mel) from ``audio_path`` (``.npy``, or
    ``.npz`` holding one array) into ``audios`` and ``length`` (T). A missing file gives
    640 x 80 zeros or uniform noise in [0, 1)."""

    def __call__(self, results: dict) -> dict:
        path = results['audio_path']
        if os.path.exists(path):
            try:
                features = np.load(path)
                if isinstance(features, np.lib.npyio.NpzFile):
                    with features:
                        if len(features.files) != 1:
                            raise ValueError(f'expected one array, found {features.files}')
                        features = features[features.files[0]]
            except (ValueError, OSError) as e:
                raise VideoReadError(f'cannot read audio features {path}: {e}') from None
        else:
            features = self._pad((640, 80), path, low=0.0)
        results['length'] = features.shape[0]
        results['audios'] = features
        return results


def _select_clips(type_name: str, results: dict, fixed_length: int) -> dict:
    """Cut ``audios`` (samples or feature rows along axis 0) into one piece per clip, the
    part spanning the clip's first to last sampled frame, each cut or zero-padded to
    ``fixed_length``; sets ``audios`` (clips, fixed_length, ...) and ``audios_shape``."""
    audio = results['audios']
    total, length = results['total_frames'], results['length']
    clips = np.asarray(results['frame_inds']).reshape(results['num_clips'], -1)
    pieces = []
    for inds in clips:
        start = max(0, int(round((inds[0] + 1) / total * length)))
        end = min(length, int(round((inds[-1] + 1) / total * length)))
        piece = audio[start:end][:fixed_length]
        pad = [(0, fixed_length - len(piece))] + [(0, 0)] * (audio.ndim - 1)
        pieces.append(np.pad(piece, pad))
    if not pieces:
        raise ValueError(f'{type_name}: no clips sampled for {results.get("audio_path")}')
    results['audios'] = np.stack(pieces)
    results['audios_shape'] = results['audios'].shape
    return results


@TRANSFORMS.register_module()
class AudioDecode(Transform):
    """For each sampled clip, the waveform between its first and last frame (frame index
    / total_frames * length samples), cut or zero-padded to ``fixed_length`` samples."""

    def __init__(self, fixed_length: int = 32000):
        self.fixed_length = int(fixed_length)

    def __call__(self, results: dict) -> dict:
        return _select_clips('AudioDecode', results, self.fixed_length)


@TRANSFORMS.register_module()
class AudioFeatureSelector(Transform):
    """For each sampled clip, the feature rows between its first and last frame, cut or
    zero-padded to ``fixed_length`` rows: ``audios`` (clips, fixed_length, F)."""

    def __init__(self, fixed_length: int = 128):
        self.fixed_length = int(fixed_length)

    def __call__(self, results: dict) -> dict:
        return _select_clips('AudioFeatureSelector', results, self.fixed_length)


@TRANSFORMS.register_module()
class AudioAmplify(Transform):
    """Multiply the waveform by ``ratio``; records ``amplify_ratio``."""

    def __init__(self, ratio: float):
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool):
            raise TypeError(f'AudioAmplify: ratio must be a number, got {ratio!r}')
        self.ratio = float(ratio)

    def __call__(self, results: dict) -> dict:
        results['audios'] = results['audios'] * np.float32(self.ratio)
        results['amplify_ratio'] = self.ratio
        return results


def _hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above."""
    freqs = np.asarray(freqs, dtype=np.float64)
    mels = freqs / (200.0 / 3)
    log_part = freqs >= 1000.0
    mels[log_part] = 15.0 + np.log(freqs[log_part] / 1000.0) / (np.log(6.4) / 27.0)
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    mels = np.asarray(mels, dtype=np.float64)
    freqs = mels * (200.0 / 3)
    log_part = mels >= 15.0
    freqs[log_part] = 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels[log_part] - 15.0))
    return freqs


@lru_cache(maxsize=8)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters, equally spaced on the Slaney mel scale
    from 0 Hz to sample_rate / 2, each scaled to unit area (librosa's ``filters.mel``
    defaults)."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(np.array([0.0]))[0],
                                       _hz_to_mel(np.array([sample_rate / 2]))[0], n_mels + 2))
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    widths = np.diff(mel_freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights = (weights * (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]).astype(np.float32)
    weights.setflags(write=False)  # shared by the cache
    return weights


def mel_spectrogram(signal: np.ndarray, sample_rate: int, n_fft: int, hop_length: int,
                    n_mels: int) -> np.ndarray:
    """(n_mels, frames) mel power spectrogram of a 1-D ``signal``, as
    ``librosa.feature.melspectrogram`` with its defaults."""
    padded = np.pad(np.asarray(signal, dtype=np.float32), n_fft // 2)
    num_frames = 1 + (len(padded) - n_fft) // hop_length
    if num_frames < 1:
        raise ValueError(f'MelSpectrogram: {len(signal)} samples are too few for a window of '
                         f'{n_fft} samples')
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:num_frames]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    power = np.abs(np.fft.rfft(frames * window, axis=1).astype(np.complex64)) ** 2
    return mel_filters(sample_rate, n_fft, n_mels) @ power.T


@TRANSFORMS.register_module()
class MelSpectrogram(Transform):
    """Each clip's waveform -> mel power spectrogram, windows of ``window_size`` ms every
    ``step_size`` ms, ``n_mels`` bands; ``audios`` becomes (clips, fixed_length, n_mels),
    time cut or padded (repeating the last frame) to ``fixed_length`` frames.

    MMAction2 pads the mel axis instead of the time axis there, which fails for its own
    defaults (80 mels < 128); here the time axis is fixed, giving the (time, frequency)
    layout that ``FormatAudioShape`` and the audio feature pipelines use.
    """

    def __init__(self, window_size: int = 32, step_size: int = 16, n_mels: int = 80,
                 fixed_length: int = 128):
        for name, value in (('window_size', window_size), ('step_size', step_size),
                            ('n_mels', n_mels), ('fixed_length', fixed_length)):
            if not isinstance(value, int) or value <= 0:
                raise TypeError(f'MelSpectrogram: {name} must be a positive int, got {value!r}')
        self.window_size = window_size
        self.step_size = step_size
        self.n_mels = n_mels
        self.fixed_length = fixed_length

    def __call__(self, results: dict) -> dict:
        sample_rate = results['sample_rate']
        n_fft = int(round(sample_rate * self.window_size / 1000))
        hop_length = int(round(sample_rate * self.step_size / 1000))
        mels = []
        for signal in results['audios'][:results['num_clips']]:
            mel = mel_spectrogram(signal, sample_rate, n_fft, hop_length, self.n_mels).T
            mel = mel[:self.fixed_length]
            mels.append(np.pad(mel, ((0, self.fixed_length - len(mel)), (0, 0)), mode='edge'))
        results['audios'] = np.stack(mels)
        return results


@TRANSFORMS.register_module()
class FormatAudioShape(Transform):
    """``audios`` (clips, time, freq) -> (clips, 1, time, freq) for ``input_format='NCTF'``;
    sets ``input_shape``."""

    def __init__(self, input_format: str):
        if input_format != 'NCTF':
            raise ValueError(f"FormatAudioShape: input_format must be 'NCTF', got {input_format!r}")
        self.input_format = input_format

    def __call__(self, results: dict) -> dict:
        audios = np.asarray(results['audios'])
        if audios.ndim != 3:
            raise ValueError(f'FormatAudioShape needs audios of shape (clips, time, freq), '
                             f'got {audios.shape}')
        results['audios'] = audios[:, None]
        results['input_shape'] = results['audios'].shape
        return results

"""RawframeDataset: one folder of extracted frame images per sample."""
from __future__ import annotations

from .base import BaseDataset
from .builder import DATASETS


@DATASETS.register_module()
class RawframeDataset(BaseDataset):
    """Frame folders listed in ``ann_file``, one per line:
    ``frame_dir total_frames label [label ...]``, or with ``with_offset``
    ``frame_dir offset total_frames label`` (clips cut from a longer frame folder);
    ``.json`` lists of sample dicts work too. Frame files are named by ``filename_tmpl``
    (Flow: ``tmpl.format('x'|'y', index)``) and numbered from ``start_index`` (default 1).

    Example::

        dataset = RawframeDataset('train.txt', pipeline, data_prefix='rawframes')
    """

    def __init__(self, ann_file, pipeline, data_prefix=None, test_mode: bool = False,
                 filename_tmpl: str = 'img_{:05}.jpg', with_offset: bool = False,
                 multi_class: bool = False, num_classes: int | None = None,
                 start_index: int = 1, modality: str = 'RGB', sample_by_class: bool = False,
                 power: float = 0., dynamic_length: bool = False, skip_invalid: bool = False):
        self.filename_tmpl = filename_tmpl
        self.with_offset = with_offset
        super().__init__(ann_file, pipeline, data_prefix=data_prefix, test_mode=test_mode,
                         multi_class=multi_class, num_classes=num_classes,
                         start_index=start_index, modality=modality,
                         sample_by_class=sample_by_class, power=power,
                         dynamic_length=dynamic_length, skip_invalid=skip_invalid)

    def load_annotations(self) -> list[dict]:
        if self.ann_file.endswith('.json'):
            infos = self.load_json_annotations()
            for i, info in enumerate(infos):
                if 'frame_dir' not in info or 'total_frames' not in info:
                    raise ValueError(f'{self.ann_file}: sample {i} needs "frame_dir" and '
                                     f'"total_frames", got {sorted(info)}')
            return infos
        return self.parse_frame_count_lines('frame_dir', self.with_offset)

    def _prepare(self, idx: int) -> dict:
        results = super()._prepare(idx)
        results['filename_tmpl'] = self.filename_tmpl
        return results

"""The package logger and the JSON-lines writer."""
import json
import logging

import numpy as np
import pytest
import torch

from actionlab.engine.logging import JsonLinesWriter, attach_file_handler, get_logger, logging_to_file


def test_get_logger_file_and_no_duplicate_handlers(tmp_path):
    name = 'actionlab_test_logger'
    logger = get_logger(name, log_file=tmp_path / 'a.log', log_level='DEBUG')
    handlers = list(logger.handlers)
    try:
        assert get_logger(name, log_file=tmp_path / 'a.log', log_level='INFO') is logger
        assert logger.handlers == handlers and logger.level == logging.INFO
        logging.getLogger(f'{name}.child').info('hello from a module')
        logger.debug('hidden')
        for h in logger.handlers:
            h.flush()
        text = (tmp_path / 'a.log').read_text()
        assert 'INFO - hello from a module' in text and 'hidden' not in text
        assert attach_file_handler(logger, tmp_path / 'a.log') in handlers
        with pytest.raises(ValueError, match='log_level'):
            get_logger(name, log_level='LOUD')
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()


def test_json_lines_writer_rounds_and_converts(tmp_path):
    writer = JsonLinesWriter(tmp_path / 'sub' / 'x.log.json')
    writer.write({'mode': 'train', 'loss': np.float64(0.123456789), 'acc': torch.tensor(0.5),
                  'lr': {'a': 0.1234567}, 'shape': np.array([1, 2]), 'n': np.int64(3)})
    writer.write({'mode': 'val', 'top1_acc': 1 / 3})
    lines = (tmp_path / 'sub' / 'x.log.json').read_text().splitlines()
    assert [json.loads(line) for line in lines] == [
        {'mode': 'train', 'loss': 0.12346, 'acc': 0.5, 'lr': {'a': 0.12346}, 'shape': [1, 2], 'n': 3},
        {'mode': 'val', 'top1_acc': 0.33333}]


def test_logging_to_file_detaches_only_its_own_handler(tmp_path):
    logger = logging.getLogger('actionlab_test_logging_to_file')
    logger.setLevel(logging.INFO)
    kept = attach_file_handler(logger, tmp_path / 'kept.log')
    try:
        with logging_to_file(logger, tmp_path / 'kept.log'):
            logger.info('one')
        with logging_to_file(logger, tmp_path / 'run.log'):
            logger.info('two')
            assert len(logger.handlers) == 2
        logger.info('three')
        assert logger.handlers == [kept]
        kept.flush()
        assert [line.rsplit(' - ', 1)[1] for line in (tmp_path / 'kept.log').read_text().splitlines()] == \
            ['one', 'two', 'three']
        assert (tmp_path / 'run.log').read_text().endswith('two\n')
    finally:
        logger.removeHandler(kept)
        kept.close()

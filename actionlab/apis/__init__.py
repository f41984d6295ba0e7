"""High-level entry points: build and run recognizers, train, test."""
from actionlab.apis.inference import inference_recognizer, init_recognizer, load_label_map
from actionlab.apis.test import multi_gpu_test, single_gpu_test
from actionlab.apis.train import train_model

__all__ = ['init_recognizer', 'inference_recognizer', 'load_label_map', 'single_gpu_test', 'multi_gpu_test',
           'train_model']

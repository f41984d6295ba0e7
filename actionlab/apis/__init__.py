"""High-level entry points: build and run recognizers, train, test."""
from actionlab.apis.inference import inference_recognizer, init_recognizer
from actionlab.apis.test import multi_gpu_test, single_gpu_test
from actionlab.apis.train import train_model

__all__ = ['init_recognizer', 'inference_recognizer', 'single_gpu_test', 'multi_gpu_test', 'train_model']

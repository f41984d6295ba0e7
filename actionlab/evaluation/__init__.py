"""Evaluation metrics."""
from .recognition import confusion_matrix, mean_class_accuracy, top_k_accuracy

__all__ = ['top_k_accuracy', 'mean_class_accuracy', 'confusion_matrix']

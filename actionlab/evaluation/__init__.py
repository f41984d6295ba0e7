"""Evaluation metrics: recognition (accuracies, multi-label mAP, score fusion) and temporal
localization (tIoU, detection AP, proposal AR@AN, the ActivityNet benchmark)."""
from .localization import (
                           ActivityNetLocalization,
                           average_precision_at_temporal_iou,
                           average_recall_at_avg_proposals,
                           interpolated_precision_recall,
                           pairwise_temporal_iou,
)
from .recognition import (
                           confusion_matrix,
                           get_weighted_score,
                           mean_average_precision,
                           mean_class_accuracy,
                           mmit_mean_average_precision,
                           softmax,
                           top_k_accuracy,
                           top_k_classes,
)

__all__ = ['top_k_accuracy', 'mean_class_accuracy', 'mean_average_precision',
           'mmit_mean_average_precision', 'confusion_matrix', 'get_weighted_score', 'softmax',
           'top_k_classes', 'interpolated_precision_recall', 'average_precision_at_temporal_iou',
           'average_recall_at_avg_proposals', 'pairwise_temporal_iou', 'ActivityNetLocalization']

"""Visualisation: writing videos and GIFs, drawing labels, confusion-matrix plots and
Grad-CAM heatmaps. (GradCAM is imported from ``actionlab.visualization.gradcam``: it
needs the models.)"""
from .confusion import plot_confusion_matrix
from .draw import COLORS, draw_text_lines, parse_color
from .writer import VideoWriter, write_video

__all__ = ['write_video', 'VideoWriter', 'draw_text_lines', 'parse_color', 'COLORS',
           'plot_confusion_matrix']

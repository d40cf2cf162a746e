"""Widgets that let learners look instead of reading tables: the data, the augmentations,
training as it happens, and the trade-offs of a decision threshold.

Core ipywidgets only (so they work in JupyterLab, Notebook and Colab). Each one also leaves a
picture and a text in the cell's output, for saved notebooks, static sites and terminals.
Importing this package is cheap; Keras loads when a widget needs it.
"""

import importlib

_WHERE = {
    "DataBrowser": ".data_browser",
    "AugmentationExplorer": ".augmentation",
    "TrainingMonitor": ".training_monitor",
    "EvaluationExplorer": ".evaluation",
    "LiveView": ".view",
    "in_kernel": ".view",
}

__all__ = list(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)


def __dir__():
    return sorted(set(globals()) | set(__all__))

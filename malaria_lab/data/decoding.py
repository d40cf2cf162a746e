"""Open one cell image faithfully, or say in a few words why it cannot be.

``scan`` and the training pipeline both decode through here, so an image the report calls
unreadable is exactly one that training skips, and the counts agree.
"""

import contextlib
import io
import re
import warnings

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

# A cell crop is a few hundred pixels a side; anything past this is not one (or is a bomb).
MAX_PIXELS = 25_000_000


class Undecodable(Exception):
    """The bytes are not an image this project can decode faithfully; ``str`` says why."""


@contextlib.contextmanager
def strict():
    """Inside the block (and its worker threads) Pillow refuses truncated images, whatever another
    module set, and its decompression-bomb warning is an error, so the image is skipped by name."""
    before = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = before


def open_image(data):
    """The decoded Pillow image of ``data`` (bytes), fully loaded; raises :class:`Undecodable`."""
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise Undecodable(f"{image.width}x{image.height} pixels, far larger than a cell image")
        image.load()
    except Undecodable:
        raise
    except UnidentifiedImageError:
        raise Undecodable("not an image Pillow can read") from None
    # Pillow's format plugins meet damaged bytes with many error types (OSError, ValueError,
    # SyntaxError, struct.error, IndexError, DecompressionBombError...): each means "bad file".
    except Exception as err:  # noqa: BLE001
        raise Undecodable(reason(err)) from None
    return image


def to_rgb(image):
    """``image`` as 8-bit RGB, its pixel values kept: transparency on black (the NIH crops'
    background), 16-bit greys scaled down, not clipped; 32-bit and float images are refused."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I;16"):
        grey = (np.asarray(image, dtype=np.uint32) + 128) // 257
        return Image.fromarray(grey.astype(np.uint8), "L").convert("RGB")
    if image.mode in ("I", "F"):
        raise Undecodable(f"{'32-bit integer' if image.mode == 'I' else 'floating-point'} pixels "
                          "(mode " + image.mode + "): save it as an 8-bit image")
    if "A" in image.getbands() or image.mode == "P":
        image = image.convert("RGBA")
        canvas = Image.new("RGB", image.size, (0, 0, 0))
        canvas.paste(image, mask=image.getchannel("A"))
        return canvas
    return image.convert("RGB")


def reason(err):
    """A short description of an error, without Python object reprs such as ``<_io.BytesIO ...>``."""
    text = err.strerror.lower() if isinstance(err, OSError) and err.strerror else clean(str(err))
    name = type(err).__name__
    return f"{name}: {text}" if text and not isinstance(err, OSError) else text or name


def clean(text):
    """``text`` without the ``<... object at 0x...>`` reprs that Pillow puts in its messages."""
    return re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(text)).strip()

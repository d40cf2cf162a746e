"""Getting the cell images: download, extract, synthesise, scan, and where they are."""

from .layout import CLASSES, POSITIVE, ImageRef, find_images, patient_id, read_bytes

__all__ = ["CLASSES", "POSITIVE", "ImageRef", "find_images", "patient_id", "read_bytes"]

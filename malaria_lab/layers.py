"""Custom Keras layers the course's models use, registered so saved models load anywhere
``malaria_lab.models`` is imported.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="malaria_lab")
class RandomRotate90(keras.layers.Layer):
    """Rotate each image by a random multiple of 90 degrees, in training only.

    A cell has no up or down, so these rotations are exact copies of real views: no
    interpolation blur and no cut corners. Made of transposes and flips, it costs almost nothing
    on any backend, unlike arbitrary-angle ``RandomRotation`` (which is slow under PyTorch).
    """

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        draw = keras.random.uniform((ops.shape(images)[0], 2, 1, 1, 1), seed=self.generator)
        # A quarter turn is a transpose then a left-right flip; a half turn flips both axes.
        quarter = ops.flip(ops.transpose(images, (0, 2, 1, 3)), axis=2)
        images = ops.where(draw[:, 0] < 0.5, quarter, images)
        return ops.where(draw[:, 1] < 0.5, ops.flip(ops.flip(images, axis=1), axis=2), images)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


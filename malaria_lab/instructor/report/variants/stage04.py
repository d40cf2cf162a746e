"""Independently written correct answers to stage 4's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
x = layers.Rescaling(scale=1.0 / 255)(x)

def conv_bn_relu(t, filters):
    t = layers.Conv2D(filters, (3, 3), padding="same", use_bias=False)(t)
    t = layers.BatchNormalization(momentum=0.9)(t)
    return layers.Activation("relu")(t)

x = conv_bn_relu(x, 16)
x = layers.MaxPooling2D(pool_size=2)(x)
for filters in (32, 64):
    x = conv_bn_relu(x, filters)
    x = conv_bn_relu(x, filters)
    x = layers.MaxPooling2D(pool_size=2)(x)
x = conv_bn_relu(x, 128)
x = conv_bn_relu(x, 128)
x = layers.GlobalAveragePooling2D()(x)
x = layers.Dropout(rate=0.2)(x)
outputs = layers.Dense(1, activation="sigmoid")(x)
''',
        '''\
plan = [16, "pool", 32, 32, "pool", 64, 64, "pool", 128, 128]
x = layers.Rescaling(1.0 / 255.0)(x)
for step in plan:
    if step == "pool":
        x = layers.MaxPooling2D()(x)
        continue
    x = layers.Conv2D(step, kernel_size=3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
x = layers.GlobalAveragePooling2D()(x)
outputs = layers.Dense(1, activation="sigmoid")(layers.Dropout(0.2)(x))
''',
    ],
    "q2": [
        '''\
n = in_channels * kernel_size ** 2 * filters
if use_bias:
    n += filters
return n
''',
        '''\
per_filter = kernel_size * kernel_size * in_channels + (1 if use_bias else 0)
return per_filter * filters
''',
    ],
}

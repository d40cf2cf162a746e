"""Independently written correct answers to stage 3's exercises (see the package's docstring)."""

VARIANTS = {
    "q1": [
        '''\
model = keras.Sequential(name="augmentation")
model.add(layers.RandomFlip("horizontal"))
model.add(layers.RandomFlip("vertical"))
model.add(RandomRotate90())
model.add(layers.RandomBrightness(factor=0.05, value_range=[0, 255]))
return model
''',
        '''\
steps = [
    RandomRotate90(),
    layers.RandomFlip(mode="horizontal_and_vertical"),
    layers.RandomContrast(factor=0.15, value_range=(0, 255)),
]
return keras.Sequential(steps)
''',
    ],
    "q2": [
        '''\
images = np.stack([image] * n).astype(np.float32)
augmented = augmentation(images, training=True)
augmented = np.asarray(keras.ops.convert_to_numpy(augmented))
return np.clip(augmented, 0, 255).round().astype(np.uint8)
''',
        '''\
out = []
for _ in range(n):
    one = augmentation(image[None, ...].astype("float32"), training=True)
    out.append(keras.ops.convert_to_numpy(one)[0])
return np.rint(np.clip(np.array(out), 0, 255)).astype("uint8")
''',
    ],
}

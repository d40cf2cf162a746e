"""Recipes: everything that decides a training run, named, so a run can be saved and repeated.

Plain data, no Keras: the command line checks a recipe before any framework loads.
"""

from dataclasses import asdict, dataclass, field, replace

from .errors import MalariaLabError


@dataclass(frozen=True)
class Recipe:
    """Everything that decides a training run, so a run can be named, saved and repeated."""

    name: str
    architecture: str = "reference"
    image_size: int = 64
    model: dict = field(default_factory=dict)
    augment: dict = field(default_factory=dict)
    optimizer: str = "adamw"
    learning_rate: float = 3e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    batch_size: int = 64
    epochs: int = 10
    patience: int = 4
    # Epochs (0-based) before which no checkpoint counts as best and training never stops, as
    # in keras.callbacks.EarlyStopping: early epochs at a high learning rate score well on a
    # few validation patients by luck; choosing one cost a cross-validation fold 4 points of accuracy.
    start_from_epoch: int = 4
    monitor: str = "val_auc"
    label_smoothing: float = 0.1
    tta: bool = True
    # None: the threshold balances sensitivity and specificity on validation (Youden). A floor of
    # 0.96 cost 1.3 points of accuracy for 1.3 of sensitivity in cross-validation, and 6 points
    # in one fold whose few validation patients had a tail of hard positive cells.
    min_sensitivity: float = None
    # "mixed_bfloat16" (or "auto": where the CPU has it natively, see malaria_lab.precision)
    # trained about a quarter faster on 2 cores, but cross-validated 0.956 +- 0.015 accuracy against 0.958 +-
    # 0.010, 1.2 points lower on the hardest fold; time is within budget, so float32 stays.
    # Saved models load back in float32 either way.
    precision: str = "float32"
    # Share of patients that `malaria-lab train` and cross-validation hold out for early stopping
    # and choosing the threshold. 0 trains on every patient for the full schedule (the last epoch
    # is the model) at ``threshold``, fixed in advance by cross-validation.
    validation: float = 0.15
    # The decision threshold where no validation patients choose one (validation 0).
    threshold: float = 0.5

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def but(self, **changes):
        """A copy with some fields changed (``recipe.but(epochs=3)``)."""
        return replace(self, **changes)


RECIPES = {
    # Holds no patient back in `malaria-lab train`: with epochs and threshold fixed by cross-validation,
    # the validation patients are worth more as training data (see `validation` above). Max pooling
    # beside average pooling raised every one of five folds (0.962 against 0.960 accuracy, 0.992
    # against 0.991 AUC) at no cost; at threshold 0.45 rather than 0.5 more sets of 48 held-out patients
    # met every target (26% against 17% of draws), sensitivity bought with a little specificity.
    "reference": Recipe("reference", validation=0.0, model=dict(pooling="avgmax"), threshold=0.45),
    # The 2020 tutorial, made to run on Keras 3: its CNN at 100 px, RMSprop 1e-3, batch 32,
    # early stopping with patience 3 on validation loss; its augmentation was
    # ImageDataGenerator(rescale, zoom, shear, horizontal flip).
    "tutorial": Recipe(
        "tutorial", architecture="tutorial", image_size=100, optimizer="rmsprop",
        learning_rate=1e-3, weight_decay=0.0, schedule="constant", warmup_epochs=0,
        batch_size=32, epochs=25, patience=3, start_from_epoch=0, monitor="val_loss",
        augment=dict(flip=True, rotate90=False, rotation=0, zoom=0.2, contrast=0, brightness=0), tta=False,
        model=dict(bn_momentum=0.99), label_smoothing=0.0,
    ),
    # Few epochs on small images: for grading mode (grading, CI) and the embedded data.
    "fast": Recipe("fast", image_size=48, epochs=6, patience=3, start_from_epoch=2, batch_size=32,
                   learning_rate=3e-3, label_smoothing=0.0),
    # Small mode (Binder's 2 GB, a laptop): a model that really learns in about a minute of training.
    "small": Recipe("small", epochs=10, patience=3, start_from_epoch=4, batch_size=32, learning_rate=3e-3),
}


def get_recipe(recipe):
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise MalariaLabError(f"Unknown recipe {recipe!r}.", f"Choose one of {', '.join(RECIPES)}.")
    return RECIPES[recipe]

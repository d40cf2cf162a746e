"""Walk a Keras model's layers through its public ``layers`` attribute, without importing Keras
(the checks of stages 1 and 2 load before it)."""


def nested_layers(model):
    """Every layer inside ``model``, nested models (say an augmentation block) and their layers
    included, in order."""
    found = []
    for layer in getattr(model, "layers", None) or []:
        found.append(layer)
        found.extend(nested_layers(layer))
    return found


def leaf_layers(model):
    """The layers that compute: nested models opened up, and left out themselves."""
    return [layer for layer in nested_layers(model) if not getattr(layer, "layers", None)]

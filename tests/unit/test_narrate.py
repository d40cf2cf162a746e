"""The stage-5 sentence about what training did is computed from the run, in every mode."""

from types import SimpleNamespace

from malaria_lab.course.narrate import training


def run(auc, epochs=None):
    return SimpleNamespace(history={"loss": [0.5] * len(auc), "val_auc": auc},
                           params={"epochs": epochs or len(auc)})


def test_two_epochs_of_grading_mode_say_early_stopping_never_chose():
    text = training(run([0.6, 0.7]))
    assert text.startswith("All 2 epoch(s) ran, no more than the first 4")
    assert "holds the last epoch's weights (validation AUC 0.700)" in text


def test_a_full_run_names_the_best_epoch_from_epoch_5_on():
    text = training(run([0.99, 0.8, 0.85, 0.9, 0.91, 0.95, 0.93, 0.95, 0.94, 0.92]))
    assert text.startswith("All 10 epoch(s) ran; early stopping put back the weights of epoch 6")
    assert "from epoch 5 on: 0.950 (the last epoch scored 0.920)" in text, "ties give the first; epoch 1 is ignored"


def test_a_run_stopped_early_says_so():
    assert training(run([0.7, 0.8, 0.85, 0.9, 0.91, 0.9, 0.9, 0.9], epochs=12)).startswith(
        "Early stopping ended the run after epoch 8 of 12 and put back the weights of epoch 5")


def test_without_validation_the_model_is_the_last_epoch():
    text = training(SimpleNamespace(history={"loss": [0.5, 0.4, 0.3]}, params={"epochs": 3}))
    assert text.startswith("3 epoch(s) ran without validation AUC") and "Train with validation data" in text

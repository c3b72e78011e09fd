"""Training protocols: the paper's is the published loop exactly; each robust choice does what it says."""

import copy
import math

import pytest
import torch

from ncglf2.core.errors import InputError
from ncglf2.core.nn.model import NCGLF2, NetworkConfig, focal_loss
from ncglf2.core.pipeline.tiling import iter_batches
from ncglf2.core.pipeline.training import (
    _epoch_order,
    fit_network,
    learning_rate_schedule,
    smoothed_focal_loss,
    training_loss,
    warm_ema,
)
from ncglf2.core.requests import PROTOCOL_CHOICES, TrainingParameters

CONFIG = NetworkConfig(num_classes=3, patch_size=5, hsi_channels=4, lidar_channels=1, width=8, depth=1, heads=2)
SIZES = {"patch_size": 5, "pca_components": 4, "width": 8, "depth": 1, "heads": 2, "device": "cpu"}


def _data(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 5, 5, 5, generator=generator) + y[:, None, None, None].float()
    return x, y


def _published_loop(x, y, val_x, val_y, params: TrainingParameters) -> dict:
    """The paper's training loop, written out on its own: Adam, step decay, shuffles, best validation kept."""
    torch.manual_seed(params.seed)
    network = NCGLF2(CONFIG).to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(network.parameters(), lr=params.learning_rate)
    scheduler = torch.optim.lr_scheduler.StepLR(optimiser, max(1, params.epochs // 5), params.lr_gamma)
    shuffle = torch.Generator().manual_seed(params.seed)
    best, best_loss, best_state = -1.0, math.inf, None
    for _ in range(params.epochs):
        network.train()
        order = torch.randperm(x.shape[0], generator=shuffle)
        for batch in iter_batches(x.shape[0], params.batch_size):
            index = order[batch]
            if index.numel() < 2:
                continue
            logits, consistency = network(x[index])
            loss = params.focal_weight * focal_loss(logits, y[index], params.focal_gamma)
            loss = loss + params.consistency_weight * consistency
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        scheduler.step()
        network.eval()
        with torch.no_grad():
            logits, consistency = network(val_x)
            loss = float(training_loss(logits, val_y, consistency, params))
            accuracy = float((logits.argmax(1) == val_y).float().mean())
        if accuracy > best or (accuracy == best and loss < best_loss):
            best, best_loss, best_state = accuracy, loss, copy.deepcopy(network.state_dict())
    return best_state


def test_the_paper_protocol_is_the_published_loop_bit_for_bit():
    x, y = _data(50, 0)
    val_x, val_y = _data(30, 1)
    params = TrainingParameters(protocol="paper", epochs=6, batch_size=16, seed=3, **SIZES)
    expected = _published_loop(x, y, val_x, val_y, params)
    got = fit_network(CONFIG, x, y, val_x, val_y, params).network.state_dict()
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name


def test_the_paper_protocol_turns_every_robust_choice_off():
    params = TrainingParameters(protocol="paper")
    assert (params.augment, params.label_smoothing, params.ema_decay, params.schedule) == (False, 0.0, 0.0, "step")
    assert (params.warmup_epochs, params.patience, params.balanced_batches) == (0, 0, False)
    assert (params.epochs, params.members) == (80, 1)  # the published 80 epochs of one network


def test_the_ensemble_protocol_is_the_papers_training_for_three_networks_keeping_the_last_epoch():
    ensemble, paper = TrainingParameters(protocol="ensemble"), TrainingParameters(protocol="paper")
    assert (ensemble.members, ensemble.epochs, ensemble.keep) == (3, 50, "last")
    same = ("augment", "label_smoothing", "ema_decay", "schedule", "warmup_epochs", "patience", "balanced_batches")
    assert all(getattr(ensemble, name) == getattr(paper, name) for name in same)
    assert ensemble.validation_split == "spatial" and ensemble.samples_per_class == 20


def test_epochs_left_out_are_the_protocols_and_epochs_given_are_kept():
    assert TrainingParameters(protocol="robust").epochs == PROTOCOL_CHOICES["robust"]["epochs"]
    assert TrainingParameters(protocol="robust", epochs=3).epochs == 3
    with pytest.raises(InputError, match="epochs must be at least 1"):
        TrainingParameters(epochs=0)


def test_a_choice_given_wins_over_the_protocol_and_survives_the_json_round_trip():
    params = TrainingParameters(protocol="robust", label_smoothing=0.0, schedule="step")
    assert params.label_smoothing == 0.0 and params.schedule == "step"
    assert params.augment is PROTOCOL_CHOICES["robust"]["augment"]
    again = TrainingParameters(**params.to_dict())
    assert again == params


@pytest.mark.parametrize(
    "options, message",
    [
        ({"protocol": "better"}, "protocol must be one of robust, paper, ensemble"),
        ({"schedule": "linear"}, "schedule must be one of step, cosine"),
        ({"label_smoothing": 1.0}, "label smoothing must be in"),
        ({"ema_decay": -0.1}, "weight average decay"),
        ({"patience": -1}, "patience"),
        ({"augment": "yes"}, "augment must be true or false"),
        ({"warmup_epochs": 1.5}, "warm-up epochs"),
        ({"keep": "first"}, "keep must be one of best, last"),
    ],
)
def test_bad_training_choices_are_refused_with_their_name(options, message):
    with pytest.raises(InputError, match=message):
        TrainingParameters(**options)


def test_smoothed_focal_loss_is_the_focal_loss_without_smoothing_and_smoothed_cross_entropy_without_focus():
    logits = torch.randn(20, 4, generator=torch.Generator().manual_seed(0))
    target = torch.arange(20) % 4
    assert torch.allclose(smoothed_focal_loss(logits, target, 2.0, 0.0), focal_loss(logits, target, 2.0), atol=1e-7)
    expected = torch.nn.functional.cross_entropy(logits, target, label_smoothing=0.2)
    assert torch.allclose(smoothed_focal_loss(logits, target, 0.0, 0.2), expected, atol=1e-6)


def test_the_cosine_schedule_warms_up_linearly_then_decays_to_nearly_zero():
    params = TrainingParameters(protocol="robust", epochs=20, warmup_epochs=4, learning_rate=1.0)
    optimiser = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=params.learning_rate)
    scheduler = learning_rate_schedule(optimiser, params)
    rates = []
    for _ in range(params.epochs):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        scheduler.step()
    assert rates[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert rates[4:] == sorted(rates[4:], reverse=True)
    assert rates[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 15 / 16)))


def test_balanced_batches_draw_every_class_about_equally():
    y = torch.cat([torch.zeros(900, dtype=torch.long), torch.ones(90, dtype=torch.long), torch.full((10,), 2)])
    params = TrainingParameters(protocol="robust", balanced_batches=True)
    drawn = torch.bincount(y[_epoch_order(y, params, torch.Generator().manual_seed(0))], minlength=3)
    assert drawn.sum() == 1000
    assert ((drawn - 333).abs() < 60).all(), drawn
    shuffled = _epoch_order(y, TrainingParameters(protocol="paper"), torch.Generator().manual_seed(0))
    assert torch.equal(torch.sort(shuffled).values, torch.arange(1000))


def test_the_weight_average_is_what_training_keeps():
    x, y = _data(40, 0)
    val_x, val_y = _data(20, 1)
    common = {"epochs": 3, "batch_size": 16, "seed": 0, "augment": False, "schedule": "step", **SIZES}
    plain = fit_network(CONFIG, x, y, val_x, val_y, TrainingParameters(protocol="robust", ema_decay=0.0, **common))
    averaged = fit_network(CONFIG, x, y, val_x, val_y, TrainingParameters(protocol="robust", ema_decay=0.9, **common))
    first = next(iter(plain.network.state_dict()))
    assert not torch.equal(plain.network.state_dict()[first], averaged.network.state_dict()[first])
    for value in averaged.network.state_dict().values():
        assert torch.isfinite(value.float()).all()


def test_the_weight_average_forgets_the_initial_weights_within_a_few_dozen_steps():
    # A fixed decay of 0.99 would still hold 0.99^50 = 61 % of the first weights after 50 steps.
    averaged, counter = [torch.zeros(3)], [torch.zeros((), dtype=torch.long)]
    update = warm_ema(0.99)
    for step in range(50):
        update(averaged, [torch.ones(3)], torch.tensor(step + 1))
        update(counter, [torch.tensor(step + 1)], torch.tensor(step + 1))
    assert (averaged[0] > 0.95).all(), averaged
    assert int(counter[0]) == 50
    late = [torch.zeros(1)]
    update(late, [torch.ones(1)], torch.tensor(10_000))
    assert float(late[0]) == pytest.approx(0.01)  # the decay reached its cap


def test_robust_training_is_repeatable_with_its_seed_and_changes_with_another():
    x, y = _data(40, 0)
    val_x, val_y = _data(20, 1)
    runs = [
        fit_network(CONFIG, x, y, val_x, val_y, TrainingParameters(protocol="robust", epochs=3, seed=s, **SIZES))
        for s in (5, 5, 6)
    ]
    states = [r.network.state_dict() for r in runs]
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not all(torch.equal(states[0][k], states[2][k]) for k in states[0])


def test_early_stopping_ends_training_after_the_patience():
    x, y = _data(40, 0)
    val_x, _ = _data(20, 1)
    val_y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(4))  # nothing to learn: no progress
    params = TrainingParameters(protocol="robust", epochs=30, patience=2, ema_decay=0.0, learning_rate=0.01, **SIZES)
    fit = fit_network(CONFIG, x, y, val_x, val_y, params)
    run = len(fit.history.epochs)
    assert run < 30
    assert run - fit.history.best_epoch == 2


def test_keeping_the_last_epoch_keeps_its_weights_whatever_the_validation_says():
    x, y = _data(40, 0)
    val_x, _ = _data(20, 1)
    val_y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(4))  # nothing to learn: best is early
    params = TrainingParameters(protocol="paper", epochs=8, patience=2, learning_rate=0.01, **SIZES)
    best = fit_network(CONFIG, x, y, val_x, val_y, params)
    longer = fit_network(CONFIG, x, y, val_x, val_y, TrainingParameters(**{**params.to_dict(), "patience": 0}))
    last = fit_network(CONFIG, x, y, val_x, val_y, TrainingParameters(**{**params.to_dict(), "keep": "last"}))
    assert len(best.history.epochs) < 8 and len(last.history.epochs) == 8  # no early stop when the last is kept
    assert last.history.best_epoch == 8 and last.history.train_loss == longer.history.train_loss  # the same training
    measured = [e for e, v in zip(last.history.epochs, last.history.val_loss) if not math.isnan(v)]
    assert measured == [5, 8]  # the validation only reports: every 5 epochs and at the end
    assert [last.history.val_loss[e - 1] for e in measured] == [longer.history.val_loss[e - 1] for e in measured]
    assert last.best_validation_accuracy == longer.history.val_accuracy[-1]
    assert longer.history.best_epoch < 8
    got, kept = last.network.state_dict(), longer.network.state_dict()
    assert not all(torch.equal(got[k], kept[k]) for k in got)  # not the best epoch's weights
    with torch.no_grad():
        assert last.validation_predictions.tolist() == last.network(val_x)[0].argmax(1).tolist()

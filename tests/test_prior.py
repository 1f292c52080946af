"""The class prior: Bayes' rule for a change of prior, its parsing, and the predictor's use of it."""
from __future__ import annotations

import numpy as np
import pytest

from airken.core.classes import LABELS
from airken.core.prior import UNIFORM, WORLD_PRIOR, BadPrior, apply_prior, parse_prior
from airken.examples import EXAMPLES_DIR


def test_uniform_to_uniform_changes_nothing():
    p = np.array([0.2, 0.5, 0.3])
    assert apply_prior(p, UNIFORM, UNIFORM) == pytest.approx(p)


def test_bayes_rule_matches_a_hand_computation():
    p = np.array([0.2, 0.5, 0.3])
    out = apply_prior(p, (0.6, 0.3, 0.1), UNIFORM)
    expect = np.array([0.2 * 0.6, 0.5 * 0.3, 0.3 * 0.1])
    assert out == pytest.approx(expect / expect.sum())


def test_prior_moves_towards_the_common_class_and_keeps_a_batch_normalised():
    batch = np.array([[0.4, 0.35, 0.25], [0.1, 0.1, 0.8]])
    out = apply_prior(batch, WORLD_PRIOR, UNIFORM)
    assert out.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert out[0].argmax() == 0 and out[0, 0] > batch[0, 0]
    assert out[1, 2] < batch[1, 2]


def test_zero_prior_class_gets_zero_and_an_impossible_prior_keeps_the_answer():
    assert apply_prior(np.array([0.5, 0.3, 0.2]), (1, 1, 0), UNIFORM)[2] == 0.0
    p = np.array([0.0, 0.0, 1.0])
    assert apply_prior(p, (1, 1, 0), UNIFORM) == pytest.approx(p)


@pytest.mark.parametrize("value, expect", [
    (None, WORLD_PRIOR), ("world", WORLD_PRIOR), ("uniform", UNIFORM), ("train", None),
    ("2,1,1", (0.5, 0.25, 0.25)), ([1, 1, 2], (0.25, 0.25, 0.5)),
    ({"healthy": 3, "danger": 1}, (0.75, 0.0, 0.25)),
])
def test_parse(value, expect):
    got = parse_prior(value)
    assert got == (None if expect is None else pytest.approx(expect))


@pytest.mark.parametrize("value", ["sunny", "1,2", [1, -1, 1], [0, 0, 0], ["a", 1, 1], {"smog": 1},
                                   [float("nan"), 1, 1]])
def test_bad_priors_are_refused_with_a_message(value):
    with pytest.raises(BadPrior, match="prior"):
        parse_prior(value)


def test_predictor_reports_and_applies_the_prior():
    from airken.core.predictor import get_predictor

    photo = EXAMPLES_DIR / "clear-mountains-picos-de-europa.jpg"
    predictor = get_predictor()
    plain = predictor.predict(photo, prior="train")
    healthy_heavy = predictor.predict(photo, prior=(0.98, 0.01, 0.01))
    assert plain.prior is None
    assert healthy_heavy.prior == pytest.approx(dict(zip(LABELS, (0.98, 0.01, 0.01), strict=True)))
    assert healthy_heavy.probabilities["healthy"] > plain.probabilities["healthy"]
    with pytest.raises(BadPrior):
        predictor.predict(photo, prior="1,2")

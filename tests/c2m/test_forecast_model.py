"""The model's pieces and the bench's metrics on tiny hand-made cases."""

import numpy as np

from c2m.forecast import model
from c2m.forecast.model import FanInput, History


def test_mape_skips_zero_actuals_and_averages_the_rest():
    assert model.mape([(12, 10), (5, 10), (3, 0)]) == 0.35  # (0.2 + 0.5) / 2
    assert model.mape([(1, 0)]) is None


def test_coverage_counts_actuals_inside_the_interval():
    assert model.coverage([(0, 10, 10), (5, 8, 4), (2, 2, 2), (1, 3, 9)]) == 0.5
    assert model.coverage([]) is None


def test_poisson_interval_is_the_10th_to_90th_percentile():
    assert model.poisson_interval(10) == (6, 14)
    assert model.poisson_interval(0) == (0, 0)


def test_higher_recommender_scores_raise_a_fans_join_probability():
    fans = [FanInput(joins=0, exposures=0, score=s) for s in (0.1, 0.5, 2.0)]
    p = model.fan_probabilities(fans, History(platform_rate=0.1))
    assert p[0] < p[1] < p[2]
    assert abs(p.mean() - 0.1) < 1e-9  # the scores say who; the join rate says how many


def test_interval_holds_the_expectation_and_widens_with_dispersion():
    fans = [FanInput(joins=1, exposures=3, score=None) for _ in range(200)]
    tight, _ = model.forecast(fans, History(platform_rate=0.2, platform_phi=0.0), 1, seed=1)
    wide, _ = model.forecast(fans, History(platform_rate=0.2, platform_phi=0.5), 1, seed=1)
    for f in (tight[0], wide[0]):
        assert f.low <= f.expected <= f.high
    assert (wide[0].high - wide[0].low) > (tight[0].high - tight[0].low)
    assert model.forecast(fans, History(), 1, seed=3) == model.forecast(fans, History(), 1, seed=3)


def test_tag_shares_follow_past_choices_with_smoothing():
    history = History(choice_pledges=[((7,), 0, 1.0)] * 30 + [((8,), 1, 1.0)] * 30)
    pi = model.choice_shares([FanInput(0, 0, None, (7,)), FanInput(0, 0, None, ())], history, 2)
    assert pi[0, 0] > 0.8 and np.allclose(pi[1], [0.5, 0.5])

"""Statistics against known values: hand computations and R's contingencytables (Fagerland,
Lydersen & Laake, "Statistical Analysis of Contingency Tables", chapter 8 examples)."""

import pytest

from memcollab_cli.stats import mcnemar_exact, paired_difference, paired_means, wilson_interval


def test_wilson_8_of_40():
    # p = 0.2, z² = 3.8415: centre 0.22628, half-width 0.12129 (worked by hand).
    low, high = wilson_interval(8, 40)
    assert low == pytest.approx(0.1050, abs=1e-4)
    assert high == pytest.approx(0.3476, abs=1e-4)


def test_wilson_edges():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_mcnemar_exact_known_values():
    # b=10, c=2: 2 * (C(12,0)+C(12,1)+C(12,2)) / 2^12 = 158/4096.
    assert mcnemar_exact(10, 2) == pytest.approx(0.0386, abs=1e-4)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)
    assert mcnemar_exact(6, 16) == pytest.approx(0.052479, abs=1e-6)  # Cavo et al. 2012
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(3, 3) == 1.0  # doubled tail capped at 1


def test_paired_difference_newcombe_cavo():
    # contingencytables: Newcombe_square_and_add_CI_paired_2x2(matrix(c(59,6,16,80),2,byrow=TRUE))
    # -> estimate = -0.0621 (95% CI -0.1186 to -0.0046)
    d = paired_difference(both=59, wins=6, losses=16, neither=80)
    assert d.n == 161
    assert d.diff == pytest.approx(-0.0621, abs=1e-4)
    assert d.low == pytest.approx(-0.1186, abs=1e-4)
    assert d.high == pytest.approx(-0.0046, abs=1e-4)
    assert d.p_value == pytest.approx(0.052479, abs=1e-6)


def test_paired_difference_symmetric_and_bounded():
    up = paired_difference(5, 8, 2, 5)
    down = paired_difference(5, 2, 8, 5)
    assert up.diff == pytest.approx(-down.diff)
    assert up.low == pytest.approx(-down.high) and up.high == pytest.approx(-down.low)
    assert up.low < up.diff < up.high
    same = paired_difference(10, 0, 0, 0)  # identical outcomes: zero, interval still honest
    assert same.diff == 0 and same.low < 0 < same.high and same.p_value == 1.0
    assert -1 <= paired_difference(0, 20, 0, 0).low and paired_difference(0, 20, 0, 0).high <= 1


def test_detectable_effect_against_a_hand_computation():
    # n = 100 paired tasks, 20 discordant (psi = 0.2). Solve
    # sqrt(n)·d = 1.959964·sqrt(0.2) + 0.841621·sqrt(0.2 - d²) by hand:
    # d = 0.1238 gives 1.2380 on the left and 0.876523 + 0.841621·0.429737 = 1.238195.
    from memcollab_cli.stats import detectable_effect

    assert detectable_effect(100, 20) == pytest.approx(0.1238, abs=2e-4)
    # The textbook shortcut (z_a + z_b)·sqrt(psi/n) = 0.1253 is the large-n limit: close above.
    assert detectable_effect(100, 20) < (1.959964 + 0.841621) * (0.2 / 100) ** 0.5
    # Four times the tasks at the same discordance: about half the effect.
    assert detectable_effect(400, 80) == pytest.approx(0.1238 / 2, abs=2e-3)
    assert detectable_effect(100, 0) is None and detectable_effect(0, 0) is None


def test_paired_means_against_a_hand_computation():
    # differences -1, 0, 1, 2: mean 0.5, sample sd sqrt(5/3), half-width 1.96 * sd / 2
    d = paired_means([1, 2, 3, 4], [2, 2, 2, 2])
    assert (d.n, d.lower, d.higher) == (4, 1, 2)
    assert d.diff == pytest.approx(0.5)
    half = 1.959964 * (5 / 3) ** 0.5 / 2
    assert (d.low, d.high) == (pytest.approx(0.5 - half, abs=1e-5), pytest.approx(0.5 + half, abs=1e-5))
    assert d.p_value == pytest.approx(mcnemar_exact(1, 2))
    assert paired_means([], []).n == 0
    with pytest.raises(ValueError):
        paired_means([1], [1, 2])

"""The generalized Gaussian: distribution against scipy, fitting accuracy, errors, comparison."""
import ml_dtypes
import numpy as np
import pytest
from scipy import special, stats

import rf8lab as rl
from rf8lab import gg

SHAPES = [0.3, 0.5, 1.0, 1.5, 2.0, 3.5]


@pytest.mark.parametrize("nu", SHAPES)
def test_distribution_equals_scipy_gennorm(nu):
    d, s = gg.gg(nu, 0.7, -0.2), stats.gennorm(nu, -0.2, 0.7)
    x = np.linspace(-6, 6, 401)
    q = np.linspace(0.001, 0.999, 99)
    np.testing.assert_allclose(d.logpdf(x), s.logpdf(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.pdf(x), s.pdf(x), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d.cdf(x), s.cdf(x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(d.sf(x), s.sf(x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(d.ppf(q), s.ppf(q), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose([d.mean(), d.var(), d.kurtosis(), d.entropy()],
                               [s.mean(), s.var(), float(s.stats(moments="k")), s.entropy()], rtol=1e-10)


@pytest.mark.parametrize("nu", [0.5, 1.0, 2.0])
def test_rvs_follow_the_distribution(nu):
    d = gg.gg(nu, 1.3)
    x = d.rvs(20000, random_state=3)
    assert stats.kstest(x, d.cdf).pvalue > 1e-3  # fixed seed; fails if the sampler is wrong


def test_quantized_entropy():
    d = gg.gg(1.0, 0.02)
    step = 2.0 ** -8
    edges = (np.arange(-2000, 2002) - 0.5) * step
    p = np.diff(stats.gennorm(1.0, 0, 0.02).cdf(edges))
    p = p[p > 0]
    assert abs(d.quantized_entropy(step) - (-(p * np.log2(p)).sum())) < 1e-9
    fine = 2.0 ** -30  # the high-resolution limit h - log2(step)
    assert abs(d.quantized_entropy(fine) - (d.entropy() / np.log(2) + 30)) < 1e-6
    with pytest.raises(ValueError, match="step must be positive"):
        d.quantized_entropy(0)


def test_scale_for_variance_matches_var():
    for nu in SHAPES:
        assert np.isclose(gg.gg(nu, gg.scale_for_variance(nu, 2 / 300)).var(), 2 / 300, rtol=1e-12)


@pytest.mark.parametrize("nu", [0.5, 1.0, 2.0])
def test_mle_is_at_least_as_likely_as_scipy_and_the_start(nu):
    x = gg.gg(nu, 0.02).rvs(100_000, random_state=5)
    r = gg.fit(x)
    b, _, s = stats.gennorm.fit(x, floc=0)
    ll_scipy = stats.gennorm(b, 0, s).logpdf(x).sum()
    assert r.loglik >= ll_scipy - 1e-9 * abs(ll_scipy)
    assert np.isclose(r.loglik, gg.gg(r.shape, r.scale).logpdf(x).sum(), rtol=1e-12)
    m = gg.fit(x, method="moments")
    assert np.isclose(m.loglik, gg.gg(m.shape, m.scale).logpdf(x).sum(), rtol=1e-12) and np.isnan(m.shape_se)
    assert np.isclose(m.scale ** 2 * np.exp(special.gammaln(3 / m.shape) - special.gammaln(1 / m.shape)),
                      np.mean(x ** 2), rtol=1e-12)  # the moment scale matches the variance
    assert r.loglik >= m.loglik
    assert r.converged and r.method == "mle" and m.method == "moments" and r.n == x.size


@pytest.mark.parametrize("nu", [0.5, 1.0, 2.0])
def test_accuracy_reaches_the_cramer_rao_bound(nu):
    """1000 replicates of n = 1000 (one call, a fit per row): RMSE of the shape within 10% of the
    Cramer-Rao bound; 95% intervals cover the truth 92-98% of the time (3 binomial sigmas ~ 2%)."""
    R, n = 1000, 1000
    r = gg.fit(gg.gg(nu, 1.0).rvs((R, n), random_state=int(nu * 10)), axis=0)
    crb = np.sqrt(nu ** 3 / (n * ((1 + 1 / nu) * special.polygamma(1, 1 + 1 / nu) - 1)))
    assert abs(np.sqrt(np.mean((r.shape - nu) ** 2)) / crb - 1) < 0.10
    assert 0.92 <= np.mean((r.shape_ci[0] <= nu) & (nu <= r.shape_ci[1])) <= 0.98
    assert 0.92 <= np.mean((r.scale_ci[0] <= 1) & (1 <= r.scale_ci[1])) <= 0.98
    assert r.converged.all()


def test_per_row_fits_equal_single_fits():
    x = gg.gg(0.8, 1.0).rvs((5, 3, 400), random_state=2)
    r = gg.fit(x, axis=1)
    for j in range(3):
        one = gg.fit(x[:, j, :])
        assert np.isclose(r.shape[j], one.shape, rtol=1e-10) and np.isclose(r.loglik[j], one.loglik, rtol=1e-10)


def test_zeros_are_excluded_and_counted():
    x = gg.gg(1.0, 1.0).rvs(5000, random_state=4)
    xz = np.concatenate([x, np.zeros(1000)])
    r = gg.fit(xz)
    assert r.n == 5000 and r.n_zero == 1000 and np.isclose(r.zero_fraction, 1 / 6)
    assert np.isclose(r.shape, gg.fit(x).shape, rtol=1e-12)


def test_low_precision_fast_path_is_exact():
    x = gg.gg(0.7, 0.02).rvs(200_000, random_state=6)
    for dt in (ml_dtypes.bfloat16, np.float16, ml_dtypes.float8_e4m3fn):
        xl = (x * (50 if dt == ml_dtypes.float8_e4m3fn else 1)).astype(dt)
        fast, slow = gg.fit(xl), gg.fit(xl.astype(np.float64))
        assert np.isclose(fast.shape, slow.shape, rtol=1e-9) and np.isclose(fast.loglik, slow.loglik, rtol=1e-9)
        assert fast.n_zero == slow.n_zero
    enc = rl.encode(x, "rf8")
    a, b = gg.fit(enc), gg.fit(rl.decode(enc, np.float64))
    assert np.isclose(a.shape, b.shape, rtol=1e-9) and a.n == b.n


def test_location_fit():
    x = gg.gg(2.0, 1.0, 0.3).rvs(50_000, random_state=7)
    r = gg.fit(x, loc=None)
    assert abs(r.loc - 0.3) < 4 * r.loc_se and abs(r.shape - 2) < 4 * r.shape_se
    assert r.loglik >= gg.fit(x, loc=0.3).loglik - 1e-6


@pytest.mark.parametrize("data,match", [
    (np.array([1.0, np.nan] * 10), "NaN or inf"),
    (np.array([1.0, np.inf] * 10), "NaN or inf"),
    (np.array([1.0, 2.0, 0.0, 3.0]), "at least 8 finite nonzero values; got 3"),
    (np.array([0.5, -0.5] * 10), "magnitudes are all equal"),
])
def test_bad_data(data, match):
    with pytest.raises(ValueError, match=match):
        gg.fit(data)


def test_bad_arguments_and_rows():
    with pytest.raises(ValueError, match="method must be 'mle' or 'moments'"):
        gg.fit(np.ones(10), method="em")
    x = np.random.default_rng(0).standard_normal((3, 50))
    x[1] = 0
    with pytest.raises(ValueError, match=r"got 0 \(row 1\)"):
        gg.fit(x, axis=0)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        gg.fit(x, axis=2)
    with pytest.raises(ValueError, match="whole-array fits only"):
        gg.fit(x, loc=None, axis=0)
    with pytest.raises(TypeError, match="it accepts"):
        gg.fit(np.array(["a"] * 10))


def test_compare_ranks_by_aic():
    df = gg.compare(gg.gg(0.7, 0.02).rvs(50_000, random_state=8))
    assert list(df.columns[:5]) == ["model", "params", "k", "n", "loglik"]
    assert df.model[0] == "gg" and df.d_aic[0] == 0 and df.d_aic[1] > 100
    assert np.isclose(df.akaike_weight.sum(), 1) and set(df.model) == {"gaussian", "laplace", "gg", "student_t"}
    g = gg.compare(gg.gg(2.0, 1.0).rvs(50_000, random_state=9)).set_index("model")
    assert g.loc["gg", "d_aic"] <= 2.5 and g.loc["gaussian", "d_aic"] <= 2.5  # GG nests the Gaussian
    assert g.loc["laplace", "d_aic"] > 100
    with pytest.raises(ValueError, match="finite"):
        gg.compare(np.array([np.nan] * 10))


def test_compare_on_a_histogram_equals_compare_on_the_values_repeated():
    """compare(values, counts=...) is compare(np.repeat(values, counts)): the same fits, AIC, KS and KL (the
    Student-t's optimizer may stop a hair apart, as sums run in another order)."""
    import ml_dtypes
    x = np.random.default_rng(5).standard_t(5, 40_000).astype(np.float32).astype(ml_dtypes.bfloat16)
    values, counts = gg.distinct(x)
    whole = gg.compare(x).set_index("model")
    hist = gg.compare(values, counts=counts).set_index("model")
    assert list(whole.index) == list(hist.index)
    for col in ("loglik", "aic", "ks", "kl", "n"):
        assert np.allclose(hist[col], whole[col], rtol=1e-7, atol=1e-9), col
    shuffled = np.random.default_rng(1).permutation(values.size)
    again = gg.compare(values[shuffled], counts=counts[shuffled]).set_index("model")
    assert np.allclose(again["aic"], hist["aic"], rtol=1e-9)
    with pytest.raises(ValueError, match="counts must be"):
        gg.compare(values, counts=counts[:-1])
    with pytest.raises(ValueError, match="counts must be"):
        gg.compare(values, counts=counts - 0.5)

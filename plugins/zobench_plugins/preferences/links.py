"""Built-in preference models: links σ with P(τ1 ≻ τ0) = σ((R1 − R0) / scale) (docs/algorithms.md#preference-models).

Each inverse is finite on the whole closed interval [0, 1]: probabilities are first clipped to
``[EPS, 1 − EPS]`` (or, for the linear link, to its exact range), because trimming happens before
the inverse anyway and an infinite difference estimate would only poison a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import zobench
from zobench import api

EPS = 1e-12
"""Distance from 0 and 1 at which inverses clip p (keeps |σ⁻¹| ≲ 28 for the logistic link)."""


def _clip(p: np.ndarray) -> np.ndarray:
    return np.clip(np.asarray(p, dtype=float), EPS, 1.0 - EPS)


class BradleyTerry(api.PreferenceModel):
    """Logistic link σ(x) = 1 / (1 + e^{−x})."""

    name = "bradley-terry"
    summary = "Bradley–Terry: logistic link σ(x) = 1/(1+e^(−x))."
    source = "Bradley & Terry 1952; the link of ZPG and DZOPG"
    symmetric = True

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """Logistic function, written through tanh so no exp overflows."""
        return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """log(p / (1 − p))."""
        p = _clip(p)
        return np.log(p) - np.log1p(-p)


@dataclass(frozen=True)
class WeibullConfig(api.PreferenceConfig):
    """Settings of the Weibull (Gompertz) link."""

    mirrored: bool = api.param(
        False,
        "Use the mirrored form 1 − exp(−exp(x)) (the complementary log-log link) instead of "
        "exp(−exp(−x)); the two are reflections, σ_mirrored(x) = 1 − σ(−x).",
        source="ours",
    )


class Weibull(api.PreferenceModel):
    """Weibull/Gompertz link σ(x) = exp(−exp(−x)) (Greene's naming; asymmetric, σ(0) = 1/e)."""

    name = "weibull"
    summary = "Weibull (Gompertz) link σ(x) = exp(−exp(−x)); asymmetric, σ(0) = 1/e."
    source = "Greene 2010 / Train 2009, as named by ZPG v2 and DZOPG (formula: our reading, docs/algorithms.md#weibull)"
    Config = WeibullConfig
    symmetric = False

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """exp(−exp(−x)), or 1 − exp(−exp(x)) when mirrored."""
        x = np.asarray(x, dtype=float)
        if self.config.mirrored:
            return -np.expm1(-np.exp(x))
        return np.exp(-np.exp(-x))

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """−log(−log p), or log(−log(1 − p)) when mirrored."""
        p = _clip(p)
        if self.config.mirrored:
            return np.log(-np.log1p(-p))
        return -np.log(-np.log(p))


class Linear(api.PreferenceModel):
    """Linear link σ(x) = clip(1/2 + x/2, 0, 1): with ``scale`` = B it is exact on |Δ| ≤ B."""

    name = "linear"
    summary = "Linear link σ(x) = clip(1/2 + x/2, 0, 1); set scale to the return-difference bound."
    source = "Named by DZOPG (Dai et al., arXiv 2605.15697)"
    symmetric = True

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """1/2 + x/2 clipped to [0, 1]."""
        return np.clip(0.5 + 0.5 * np.asarray(x, dtype=float), 0.0, 1.0)

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """2p − 1 (finite everywhere; p outside [0, 1] is clipped first)."""
        return 2.0 * np.clip(np.asarray(p, dtype=float), 0.0, 1.0) - 1.0


class Cauchy(api.PreferenceModel):
    """Cauchy link σ(x) = 1/2 + arctan(x)/π (heavy tails: large differences still err)."""

    name = "cauchy"
    summary = "Cauchy link σ(x) = 1/2 + arctan(x)/π (heavy-tailed noise)."
    source = "Named by DZOPG (Dai et al., arXiv 2605.15697)"
    symmetric = True

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """1/2 + arctan(x)/π."""
        return 0.5 + np.arctan(np.asarray(x, dtype=float)) / np.pi

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """tan(π (p − 1/2))."""
        return np.tan(np.pi * (_clip(p) - 0.5))


class CLogLog(api.PreferenceModel):
    """Complementary log-log link σ(x) = 1 − exp(−exp(x)) (asymmetric, σ(0) = 1 − 1/e)."""

    name = "cloglog"
    summary = "Complementary log-log link σ(x) = 1 − exp(−exp(x)); asymmetric."
    source = "Named by DZOPG (Dai et al., arXiv 2605.15697)"
    symmetric = False

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """1 − exp(−exp(x)), via expm1 for accuracy near 0."""
        return -np.expm1(-np.exp(np.asarray(x, dtype=float)))

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """log(−log(1 − p))."""
        return np.log(-np.log1p(-_clip(p)))


# -- the normal CDF and its inverse, without scipy --------------------------------------------

SERIES_TERMS = 50
"""Terms of the erf series used for 0 ≤ z < 2."""
FRACTION_TERMS = 80
"""Depth of the erfc continued fraction used for z ≥ 2."""


def _erfc_nonnegative(z: np.ndarray) -> np.ndarray:
    """erfc(z) for z ≥ 0 to ~1e-13 relative (checked against ``math.erfc`` in the tests).

    Below 2: erf(z) = (2/√π) e^{−z²} Σ_n 2^n z^{2n+1} / (1·3·…·(2n+1)), a series of positive
    terms (no cancellation), and erfc = 1 − erf. From 2 on: the continued fraction
    erfc(z) = e^{−z²} / (√π (z + (1/2)/(z + 1/(z + (3/2)/(z + …))))), evaluated bottom-up at a
    fixed depth. Both loops run over terms, vectorized over z.
    """
    out = np.empty_like(z)
    small = z < 2.0
    zs = z[small]
    term = zs.copy()
    total = zs.copy()
    twice_square = 2.0 * zs * zs
    for n in range(1, SERIES_TERMS):
        term = term * twice_square / (2 * n + 1)
        total += term
    out[small] = 1.0 - (2.0 / np.sqrt(np.pi)) * np.exp(-zs * zs) * total
    zl = z[~small]
    fraction = zl.copy()
    for k in range(FRACTION_TERMS, 0, -1):
        fraction = zl + (0.5 * k) / fraction
    out[~small] = np.exp(-zl * zl) / (np.sqrt(np.pi) * fraction)
    return out


def _erfc(x: np.ndarray) -> np.ndarray:
    """Complementary error function, accurate in both tails (erfc(−z) = 2 − erfc(z))."""
    x = np.asarray(x, dtype=float)
    positive = _erfc_nonnegative(np.abs(x))
    return np.where(x >= 0, positive, 2.0 - positive)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) = erfc(−x/√2)/2, accurate to ~1e-13 relative in both tails (NaN stays NaN)."""
    return 0.5 * _erfc(-np.asarray(x, dtype=float) / np.sqrt(2.0))


_A = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716, 2.506628277459239)  # fmt: skip
_B = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572)  # fmt: skip
_C = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783)  # fmt: skip
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def _polyval(coeffs: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    for c in coeffs:
        out = out * x + c
    return out


def normal_ppf(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p) by Acklam's rational approximation (1e-9) refined by one Halley step (~1e-15).

    p is clipped to ``[EPS, 1 − EPS]`` first, so the result is finite (|Φ⁻¹| ≤ 7.03).
    """
    p = _clip(p)
    low = 0.02425
    q = np.minimum(p, 1.0 - p)  # solve in the lower tail, then reflect
    r = np.sqrt(-2.0 * np.log(q))
    tail = _polyval(_C, r) / (_polyval(_D, r) * r + 1.0)
    u = p - 0.5
    v = u * u
    central = u * _polyval(_A, v) / (_polyval(_B, v) * v + 1.0)
    x = np.where(q < low, np.where(p < 0.5, tail, -tail), central)
    # Halley refinement against the accurate CDF
    e = normal_cdf(x) - p
    step = e * np.sqrt(2.0 * np.pi) * np.exp(0.5 * x * x)
    return x - step / (1.0 + 0.5 * x * step)


class Probit(api.PreferenceModel):
    """Probit link σ = Φ, the standard normal CDF (Thurstone's model)."""

    name = "probit"
    summary = "Probit (Thurstone) link σ(x) = Φ(x), the standard normal CDF."
    source = "Thurstone 1927"
    symmetric = True

    def sigma(self, x: np.ndarray) -> np.ndarray:
        """Φ(x)."""
        return normal_cdf(x)

    def sigma_inverse(self, p: np.ndarray) -> np.ndarray:
        """Φ⁻¹(p)."""
        return normal_ppf(p)


LINKS = (BradleyTerry, Weibull, Linear, Cauchy, CLogLog, Probit)


@zobench.hookimpl
def zobench_register_preference_models(register):
    """Register the six built-in links."""
    for link in LINKS:
        register(link)

"""Spike functions: a Heaviside step forward, a surrogate derivative backward.

Each surrogate is a small PyTree (``eqx.Module``) called on ``x = v - v_thresh``
[mV]; it returns exactly 0.0 or 1.0 (``x >= 0``) and differentiates as its
``derivative(x)``. Pass one to a neuron model to choose the gradient.
"""

from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


@partial(jax.custom_jvp, nondiff_argnums=(0,))
def _spike(derivative, x, *params):
    del params
    return (x >= 0).astype(x.dtype)


@_spike.defjvp
def _spike_jvp(derivative, primals, tangents):
    x, *params = primals
    return _spike(derivative, x, *params), derivative(x, *params) * tangents[0]


def _fast_sigmoid_grad(x, slope):
    return 1.0 / (1.0 + slope * jnp.abs(x)) ** 2


def _sigmoid_grad(x, slope):
    s = jax.nn.sigmoid(slope * x)
    return slope * s * (1.0 - s)


def _triangle_grad(x, gamma, width):
    return gamma / width * jnp.maximum(0.0, 1.0 - jnp.abs(x) / width)


def _arctan_grad(x, alpha):
    return alpha / (2.0 * (1.0 + (jnp.pi / 2.0 * alpha * x) ** 2))


class FastSigmoid(eqx.Module):
    """SuperSpike / fast-sigmoid surrogate: ``1 / (1 + slope |x|)^2``.

    Zenke & Ganguli (2018), "SuperSpike". ``slope`` [1/mV].
    """

    slope: float = 10.0

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return _spike(_fast_sigmoid_grad, x, self.slope)


SuperSpike = FastSigmoid


class Sigmoid(eqx.Module):
    """Derivative of the logistic sigmoid of ``slope * x``; ``slope`` [1/mV]."""

    slope: float = 5.0

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return _spike(_sigmoid_grad, x, self.slope)


class Triangle(eqx.Module):
    """e-prop pseudo-derivative ``gamma / width * max(0, 1 - |x| / width)``.

    Bellec et al. (2020) use ``gamma = 0.3`` and ``width = v_thresh`` [mV].
    """

    gamma: float = 0.3
    width: float = 1.0

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return _spike(_triangle_grad, x, self.gamma, self.width)


class ArcTan(eqx.Module):
    """Arctangent surrogate (Fang et al. 2021); ``alpha`` [1/mV]."""

    alpha: float = 2.0

    def __call__(self, x: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return _spike(_arctan_grad, x, self.alpha)

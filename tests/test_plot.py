"""spars.plot draws what it is given (checked on the drawn artists) and refuses bad shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spars
from spars import plot

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")


def test_plots_draw_the_real_synapses_and_spikes(tmp_path):
    import matplotlib.pyplot as plt

    conn = spars.fixed_probability(jax.random.key(0), 30, 20, p=0.2, headroom=2.0)
    w = jnp.where(conn.mask, jax.random.normal(jax.random.key(1), conn.indices.shape), 0.0)
    fig, axes = plt.subplots(2, 2)
    spikes = np.zeros((50, 10))
    spikes[[3, 7, 7], [1, 2, 5]] = 1
    ax = plot.raster(spikes, dt=0.5, ax=axes[0, 0])
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[1.5, 1], [3.5, 2], [3.5, 5]])
    ax = plot.weight_histogram(conn, w, ax=axes[0, 1])
    assert sum(p.get_height() for p in ax.patches) == int(conn.n_synapses)
    plot.degree_histogram(conn, ax=axes[1, 0])
    ax = plot.connectivity(conn, w, ax=axes[1, 1])
    image = ax.images[0].get_array()
    assert int(np.sum(~np.isnan(np.asarray(image.filled(np.nan))))) == int(conn.n_synapses)
    fig.savefig(tmp_path / "all.png")
    assert (tmp_path / "all.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"spikes must be \[T, n\]"):
        plot.raster(np.zeros((2, 3, 4)))
    plt.close("all")

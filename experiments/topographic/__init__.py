"""Topographic map formation with STDP and distance-dependent rewiring, and its scaling."""

"""Shared jaxtyping aliases."""

from jaxtyping import Array, Bool, Float, Int

Indices = Int[Array, "pre max_row"]
RowLength = Int[Array, " pre"]
SynapseVar = Float[Array, "pre max_row"]
SlotMask = Bool[Array, "pre max_row"]
Spikes = Float[Array, "*batch pre"]
PostInput = Float[Array, "*batch post"]

__all__ = ["Indices", "RowLength", "SynapseVar", "SlotMask", "Spikes", "PostInput"]

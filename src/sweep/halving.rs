//! Successive halving over the data window (docs/sweeps.md, "Successive halving").

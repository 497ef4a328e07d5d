//! `gridsweep tiers`: show, refresh and diff risk-limit tiers.

//! Command-line interface: argument definitions and dispatch.

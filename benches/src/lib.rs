//! Shared helpers for GoOnline benchmarks.

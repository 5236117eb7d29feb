//! Shared bodies of the fuzz targets: each `fuzz_targets/*.rs` file is a thin `fuzz_target!` around one of these,
//! so the three provider targets run the same oracles and differ only in the provider.

pub mod webhook;

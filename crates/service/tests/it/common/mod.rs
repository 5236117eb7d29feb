//! The service tests' shared harnesses: both backends and fake-provider clients (`backends`), the lease and license
//! harness, and the reconciliation harness.

pub mod backends;
pub mod folding;
pub mod license_harness;
pub mod reconcile_harness;

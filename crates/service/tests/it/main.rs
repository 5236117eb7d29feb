//! The service crate's integration suite: one binary, one module per use case.

mod common;
mod console;
mod device_flows;
mod entitlement_change;
mod ingest;
mod ingest_aghanim;
mod ingest_commit;
mod lease;
mod lease_device_claim;
mod license_activation;
mod license_devices;
mod license_dodo;
mod license_reuse;
mod license_revalidation;
mod reconcile;
mod reconcile_devices;
mod reconcile_runs;

//! `tollgate_providers::parse_webhook(Provider::Whop, ..)` on arbitrary bodies and delivery metadata: never
//! panics, `NotJson` exactly for non-JSON bodies, deterministic (see `tollgate_fuzz::webhook`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_policy::Provider;

fuzz_target!(|data: &[u8]| {
    tollgate_fuzz::webhook::check(Provider::Whop, data);
});

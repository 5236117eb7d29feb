//! A fake Whop on loopback with a few demo licenses, for trying the demo app against a local Tollgate.
//!
//! `cargo run -p tollgate-client --example fake_whop` prints the environment for `tollgate serve`, then keeps
//! running until Ctrl-C.

use tollgate_providers::whop::fake::{FakeMembership, FakeWhop};
use tollgate_testkit::FakeProvider as _;

fn main() {
    let whop = FakeWhop::start();
    whop.add_membership(FakeMembership::new("mem_demo_active", "DEMO-ACTIVE-0001"));
    whop.add_membership(FakeMembership::new("mem_demo_second", "DEMO-SECOND-0002"));
    let mut expired = FakeMembership::new("mem_demo_expired", "DEMO-EXPIRED-0003");
    expired.status = "expired".into();
    whop.add_membership(expired);

    println!("Fake Whop listening at {}", whop.base_url());
    println!();
    println!("Start Tollgate against it (another terminal):");
    println!(
        "  TOLLGATE_PROVIDERS__WHOP__API_BASE={} TOLLGATE_PROVIDERS__WHOP__API_KEY={} \\\n  \
         TOLLGATE_PROVIDERS__WHOP__WEBHOOK_SECRET={} TOLLGATE_DATABASE__URL=sqlite://demo.db cargo run -p tollgate -- serve",
        whop.base_url(),
        whop.api_key(),
        whop.webhook_secret()
    );
    println!();
    println!("License keys: DEMO-ACTIVE-0001 and DEMO-SECOND-0002 (active), DEMO-EXPIRED-0003 (expired).");
    println!("Press Ctrl-C to stop.");
    loop {
        std::thread::park();
    }
}

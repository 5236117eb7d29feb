//! The fake Whop of `tollgate dev` (cargo feature `fake`): [`FakeWhop`] (`fake/`) started with the dev world's
//! credentials (a `ws_` webhook secret, as Whop's dashboard shows one) and seeded with three demo memberships: an
//! active one, a canceled one and a node-locked one.

use serde_json::json;
use tollgate_testkit::{DemoKey, DemoProduct, DevDemo, DevFake, DevSeed, FakeHost, FakeProvider};

use super::fake::{FakeMembership, FakeWhop};

/// The product of the active and canceled memberships.
const APP_PRODUCT: &str = "prod_tgdev_app";
/// The node-locked product and its device limit.
const NODE_LOCKED: DemoProduct = DemoProduct {
    product: "prod_tgdev_nodelock",
    max_devices: 1,
};
/// The active key's membership (for `tollgate entitlements show`).
const ACTIVE_MEMBERSHIP: &str = "mem_tgdev_active";

/// [`FakeWhop`] in the dev world.
#[derive(Debug)]
pub(super) struct DevWhop(FakeWhop);

impl DevWhop {
    pub(super) fn start(seed: &DevSeed) -> DevWhop {
        let secret = format!("ws_{}", seed.secret_hex());
        DevWhop(FakeWhop::start_with(&seed.api_key, &secret))
    }

    fn add(&self, id: &str, key: &str, user: &str, product: &str, status: &str) {
        let mut membership = FakeMembership::new(id, key);
        membership.user_id = user.to_owned();
        membership.product_id = product.to_owned();
        membership.plan_id = format!("plan_{}", product.trim_start_matches("prod_"));
        membership.status = status.to_owned();
        self.0.add_membership(membership);
    }
}

impl FakeProvider for DevWhop {
    fn host(&self) -> &FakeHost {
        self.0.host()
    }
}

impl DevFake for DevWhop {
    fn name(&self) -> &'static str {
        "Whop"
    }

    /// Reconciliation lists the company's memberships: the fake's company.
    fn extra_config(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("company_id", json!(FakeWhop::COMPANY_ID))]
    }

    fn seed_demo(&self, default_max_devices: u32) -> DevDemo {
        let active = "TGDEV-ACTV-7Q2M-K9XD";
        let canceled = "TGDEV-CNCL-3H8P-W4TB";
        let node_locked = "TGDEV-LOCK-5R9N-J2VC";
        self.add(
            ACTIVE_MEMBERSHIP,
            active,
            "user_tgdev_active",
            APP_PRODUCT,
            "active",
        );
        self.add(
            "mem_tgdev_canceled",
            canceled,
            "user_tgdev_canceled",
            APP_PRODUCT,
            "canceled",
        );
        self.add(
            "mem_tgdev_nodelock",
            node_locked,
            "user_tgdev_nodelock",
            NODE_LOCKED.product,
            "active",
        );
        let devices = match NODE_LOCKED.max_devices {
            1 => "1 device".to_owned(),
            n => format!("{n} devices"),
        };
        DevDemo {
            keys: vec![
                DemoKey {
                    name: "active",
                    key: active,
                    note: format!("active Whop membership, up to {default_max_devices} devices"),
                    external_id: Some(ACTIVE_MEMBERSHIP),
                },
                DemoKey {
                    name: "canceled",
                    key: canceled,
                    note: "canceled Whop membership: 403 LICENSE_INACTIVE".to_owned(),
                    external_id: None,
                },
                DemoKey {
                    name: "node_locked",
                    key: node_locked,
                    note: format!(
                        "node-locked Whop membership ({devices}): a second device gets 409 DEVICE_MISMATCH"
                    ),
                    external_id: None,
                },
            ],
            products: vec![NODE_LOCKED],
            subject: None,
        }
    }
}

//! The fake Dodo of `tollgate dev` (cargo feature `fake`): [`FakeDodo`] (`fake/`) started with the dev world's
//! credentials (a `whsec_<base64>` webhook secret, as Dodo's dashboard shows one) and seeded with one active
//! license key and its delivered grant.

use tollgate_testkit::{DemoKey, DemoProduct, DevDemo, DevFake, DevSeed, FakeHost, FakeProvider};

use super::fake::{FakeDodo, FakeGrant, FakeLicenseKey};

/// The demo key.
const KEY: &str = "TGDEV-DODO-8K4F-M6QZ";
/// Its customer.
const CUSTOMER: &str = "cus_tgdev_0001";
/// Its product, whose policy allows as many devices as Dodo allows activations.
const PRODUCT: DemoProduct = DemoProduct {
    product: "pdt_tgdev_app",
    max_devices: 3,
};

/// [`FakeDodo`] in the dev world.
#[derive(Debug)]
pub(super) struct DevDodo(FakeDodo);

impl DevDodo {
    pub(super) fn start(seed: &DevSeed) -> DevDodo {
        let secret = format!("whsec_{}", seed.secret_base64());
        DevDodo(FakeDodo::start_with(&seed.api_key, &secret))
    }
}

impl FakeProvider for DevDodo {
    fn host(&self) -> &FakeHost {
        self.0.host()
    }
}

impl DevFake for DevDodo {
    fn name(&self) -> &'static str {
        "Dodo"
    }

    fn seed_demo(&self, _default_max_devices: u32) -> DevDemo {
        let mut key = FakeLicenseKey::new("lic_tgdev_0001", KEY, Some(PRODUCT.max_devices));
        key.customer_id = CUSTOMER.to_owned();
        key.product_id = PRODUCT.product.to_owned();
        self.0.add_license_key(key);
        let mut grant = FakeGrant::pending("entg_tgdev_0001", "ent_tgdev_app", CUSTOMER);
        grant.status = "Delivered".to_owned();
        grant.license_key = Some(KEY.to_owned());
        self.0.add_grant(grant);
        DevDemo {
            keys: vec![DemoKey {
                name: "dodo",
                key: KEY,
                note: format!(
                    "active Dodo license key, up to {} activations",
                    PRODUCT.max_devices
                ),
                external_id: None,
            }],
            products: vec![PRODUCT],
            subject: None,
        }
    }
}

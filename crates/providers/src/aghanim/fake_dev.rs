//! The fake Aghanim of `tollgate dev` (cargo feature `fake`): [`FakeAghanim`] started with the dev world's
//! credentials (a hex webhook secret, as Aghanim's dashboard shows one) and seeded with one player's active
//! subscription, which the server learns through a signed `subscription.activated` webhook: Aghanim has no license
//! keys to activate.

use tollgate_testkit::{DemoSubject, DevDemo, DevFake, DevSeed, FakeHost, FakeProvider, SignedWebhook};

use super::fake::{FakeAghanim, FakeAghanimSubscription};

/// The player with an active subscription (the service API example).
const PLAYER: &str = "TGDEV-PLYR-4W7C";
/// That player's subscription.
const SUBSCRIPTION: &str = "sub_tgdev_season";
/// Its SKU.
const SKU: &str = "sku_tgdev_season_pass";
/// The event that tells the server about it.
const ACTIVATED: &str = "subscription.activated";

/// [`FakeAghanim`] in the dev world.
#[derive(Debug)]
pub(super) struct DevAghanim(FakeAghanim);

impl DevAghanim {
    pub(super) fn start(seed: &DevSeed) -> DevAghanim {
        DevAghanim(FakeAghanim::start_with(&seed.api_key, &seed.secret_hex()))
    }
}

impl FakeProvider for DevAghanim {
    fn host(&self) -> &FakeHost {
        self.0.host()
    }
}

impl DevFake for DevAghanim {
    fn name(&self) -> &'static str {
        "Aghanim"
    }

    fn seed_demo(&self, _default_max_devices: u32) -> DevDemo {
        self.0
            .add_subscription(PLAYER, FakeAghanimSubscription::active(SUBSCRIPTION, SKU));
        DevDemo {
            keys: Vec::new(),
            products: Vec::new(),
            subject: Some(DemoSubject {
                noun: "player",
                id: PLAYER,
                record: "subscription",
                event: ACTIVATED,
            }),
        }
    }

    fn subject_webhook(&self) -> Option<SignedWebhook> {
        self.0.subscription_webhook(PLAYER, SUBSCRIPTION, ACTIVATED)
    }
}

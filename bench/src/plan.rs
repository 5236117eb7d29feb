//! The ingest delivery plan: N distinct events per provider (two per entitlement: an earlier and a later change),
//! delivered in two rounds so that each entitlement's events arrive far apart, with an exact share of entitlements
//! whose later event is delivered first (out of order) and an exact share of events delivered twice (a duplicate
//! always comes after its original). Deterministic for a seed.

use serde::{Deserialize, Serialize};

/// The providers the plan covers, in plan order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Whop,
    Dodo,
    Aghanim,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Whop, Provider::Dodo, Provider::Aghanim];

    /// The webhook endpoint's path.
    pub fn webhook_path(self) -> &'static str {
        match self {
            Provider::Whop => "/api/webhooks/whop",
            Provider::Dodo => "/api/webhooks/dodo",
            Provider::Aghanim => "/api/webhooks/aghanim",
        }
    }
}

/// One distinct event: the `seq`-th change (0 = earlier, 1 = later) of entitlement `entitlement` of `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRef {
    pub provider: Provider,
    pub entitlement: u32,
    pub seq: u8,
}

/// One request of the plan: which event, and whether it is a redelivery of one sent earlier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Index into [`Plan::events`].
    pub event: usize,
    pub duplicate: bool,
}

/// What a plan generator is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanConfig {
    pub events_per_provider: usize,
    /// Share of distinct events delivered a second time, in `0.0..=1.0`.
    pub duplicate_rate: f64,
    /// Share of two-event entitlements whose later event is delivered before the earlier one, in `0.0..=1.0`.
    pub out_of_order_rate: f64,
    pub seed: u64,
}

/// Exact counts of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PlanCounts {
    pub distinct_events: usize,
    pub deliveries: usize,
    pub duplicates: usize,
    /// Entitlements with two events.
    pub pairs: usize,
    /// Pairs whose later event is delivered first.
    pub out_of_order_pairs: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub events: Vec<EventRef>,
    pub deliveries: Vec<Delivery>,
    pub counts: PlanCounts,
}

/// SplitMix64: small, fast and good enough to shuffle a benchmark deterministically.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the modulo bias is negligible for benchmark sizes).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `count` distinct indices out of `0..n`, in random order.
    pub fn choose(&mut self, n: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let count = count.min(n);
        for i in 0..count {
            let j = i + self.below((n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(count);
        all
    }
}

/// `share` of `n`, rounded to the nearest whole number.
fn share(n: usize, rate: f64) -> usize {
    ((n as f64) * rate.clamp(0.0, 1.0)).round() as usize
}

impl Plan {
    pub fn generate(config: &PlanConfig) -> Plan {
        let mut rng = Rng::new(config.seed);
        let per_provider = config.events_per_provider;
        let entitlements_per_provider = per_provider.div_ceil(2);

        // Every entitlement with its events, in provider order.
        let mut events = Vec::with_capacity(per_provider * Provider::ALL.len());
        let mut chains: Vec<(usize, Option<usize>)> = Vec::new();
        for provider in Provider::ALL {
            for entitlement in 0..entitlements_per_provider {
                let first = events.len();
                events.push(EventRef {
                    provider,
                    entitlement: entitlement as u32,
                    seq: 0,
                });
                let second = (2 * entitlement + 1 < per_provider).then(|| {
                    events.push(EventRef {
                        provider,
                        entitlement: entitlement as u32,
                        seq: 1,
                    });
                    events.len() - 1
                });
                chains.push((first, second));
            }
        }

        // Pick exactly the out-of-order pairs, then deliver in two rounds: first-delivered events, then the rest.
        let pair_chains: Vec<usize> = (0..chains.len()).filter(|&c| chains[c].1.is_some()).collect();
        let reversed_count = share(pair_chains.len(), config.out_of_order_rate);
        let mut reversed = vec![false; chains.len()];
        for pick in rng.choose(pair_chains.len(), reversed_count) {
            reversed[pair_chains[pick]] = true;
        }
        let mut round_one: Vec<usize> = (0..chains.len()).collect();
        rng.shuffle(&mut round_one);
        let mut round_two: Vec<usize> = pair_chains.clone();
        rng.shuffle(&mut round_two);
        let mut base = Vec::with_capacity(events.len());
        for &c in &round_one {
            let (first, second) = chains[c];
            base.push(match (reversed[c], second) {
                (true, Some(second)) => second,
                _ => first,
            });
        }
        for &c in &round_two {
            let (first, second) = chains[c];
            if let Some(second) = second {
                base.push(if reversed[c] { first } else { second });
            }
        }

        // Duplicates: exactly `share` of the distinct events, each placed at a random point after its original.
        const SLOTS: u64 = 4;
        let len = base.len() as u64;
        let mut keyed: Vec<(u64, Delivery)> = base
            .iter()
            .enumerate()
            .map(|(pos, &event)| {
                (
                    pos as u64 * SLOTS,
                    Delivery {
                        event,
                        duplicate: false,
                    },
                )
            })
            .collect();
        let duplicate_count = share(base.len(), config.duplicate_rate);
        for pos in rng.choose(base.len(), duplicate_count) {
            let after = pos as u64 * SLOTS + 1 + rng.below((len - pos as u64) * SLOTS);
            keyed.push((
                after,
                Delivery {
                    event: base[pos],
                    duplicate: true,
                },
            ));
        }
        keyed.sort_by_key(|(key, delivery)| (*key, delivery.duplicate));
        let deliveries: Vec<Delivery> = keyed.into_iter().map(|(_, delivery)| delivery).collect();

        let counts = PlanCounts {
            distinct_events: events.len(),
            deliveries: deliveries.len(),
            duplicates: duplicate_count,
            pairs: pair_chains.len(),
            out_of_order_pairs: reversed_count,
        };
        Plan {
            events,
            deliveries,
            counts,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(seed: u64) -> PlanConfig {
        PlanConfig {
            events_per_provider: 1000,
            duplicate_rate: 0.1,
            out_of_order_rate: 0.2,
            seed,
        }
    }

    /// Counts measured on the plan itself, not taken from its summary.
    fn measure(plan: &Plan) -> (usize, usize, usize) {
        let mut first_seen: HashMap<usize, usize> = HashMap::new();
        let mut duplicates = 0;
        for (pos, delivery) in plan.deliveries.iter().enumerate() {
            if delivery.duplicate {
                duplicates += 1;
                let original = first_seen.get(&delivery.event).copied();
                assert!(
                    original.is_some_and(|o| o < pos),
                    "a duplicate precedes its original"
                );
            } else {
                assert!(
                    first_seen.insert(delivery.event, pos).is_none(),
                    "two originals of one event"
                );
            }
        }
        let position = |event: &EventRef| {
            let index = plan.events.iter().position(|e| e == event).unwrap();
            first_seen[&index]
        };
        let mut reversed = 0;
        for event in plan.events.iter().filter(|e| e.seq == 1) {
            let earlier = EventRef { seq: 0, ..*event };
            if position(event) < position(&earlier) {
                reversed += 1;
            }
        }
        (first_seen.len(), duplicates, reversed)
    }

    #[test]
    fn exact_counts_for_a_seed() {
        let plan = Plan::generate(&config(42));
        assert_eq!(
            plan.counts,
            PlanCounts {
                distinct_events: 3000,
                deliveries: 3300,
                duplicates: 300,
                pairs: 1500,
                out_of_order_pairs: 300,
            }
        );
        assert_eq!(plan.deliveries.len(), 3300);
        assert_eq!(measure(&plan), (3000, 300, 300));
        for provider in Provider::ALL {
            assert_eq!(
                plan.events.iter().filter(|e| e.provider == provider).count(),
                1000
            );
        }
    }

    #[test]
    fn same_seed_same_plan_and_another_seed_another_order() {
        let a = Plan::generate(&config(7));
        assert_eq!(a, Plan::generate(&config(7)));
        let b = Plan::generate(&config(8));
        assert_eq!(measure(&b), (3000, 300, 300));
        assert_ne!(a.deliveries, b.deliveries);
    }

    #[test]
    fn odd_sizes_and_zero_rates() {
        let plan = Plan::generate(&PlanConfig {
            events_per_provider: 5,
            duplicate_rate: 0.0,
            out_of_order_rate: 0.0,
            seed: 1,
        });
        assert_eq!(
            plan.counts,
            PlanCounts {
                distinct_events: 15,
                deliveries: 15,
                duplicates: 0,
                pairs: 6,
                out_of_order_pairs: 0,
            }
        );
        assert_eq!(measure(&plan), (15, 0, 0));

        let all = Plan::generate(&PlanConfig {
            events_per_provider: 4,
            duplicate_rate: 1.0,
            out_of_order_rate: 1.0,
            seed: 3,
        });
        assert_eq!(measure(&all), (12, 12, 6));
        assert!(
            Plan::generate(&PlanConfig {
                events_per_provider: 0,
                ..config(1)
            })
            .deliveries
            .is_empty()
        );
    }
}

//! ActiveDevice admission and self-service transfers at their boundaries.

use tollgate_policy::{
    ActiveDevice, Admission, DenyCode, HumanDuration, Policy, TransferDenial, TransferMode, admit_device,
    check_transfer,
};

use crate::common::{DAY, HOUR, t};

fn devices(n: usize) -> Vec<ActiveDevice> {
    (0..n)
        .map(|i| ActiveDevice::new(format!("hwid_{i}"), t(i as i64)))
        .collect()
}

fn max(n: u32) -> Policy {
    Policy {
        max_devices: n,
        ..Policy::default()
    }
}

#[test]
fn admission_at_the_device_limit() {
    let cases: &[(u32, usize, &str, Admission)] = &[
        // Node-locked.
        (1, 0, "new", Admission::Admitted),
        (1, 1, "hwid_0", Admission::AlreadyActive),
        (1, 1, "new", Admission::DeviceMismatch),
        // Three seats: two used, exactly three used, one more.
        (3, 2, "new", Admission::Admitted),
        (3, 3, "new", Admission::DeviceLimitReached),
        (3, 3, "hwid_2", Admission::AlreadyActive),
        (3, 4, "new", Admission::DeviceLimitReached),
        (3, 4, "hwid_3", Admission::AlreadyActive),
    ];
    for &(max_devices, used, hwid, expected) in cases {
        let got = admit_device(&devices(used), hwid, &max(max_devices));
        assert_eq!(got, expected, "max {max_devices}, {used} used, {hwid}");
    }
    assert_eq!(
        Admission::DeviceMismatch.deny_code(),
        Some(DenyCode::DeviceMismatch)
    );
    assert_eq!(
        Admission::DeviceLimitReached.deny_code(),
        Some(DenyCode::DeviceLimitReached)
    );
    assert_eq!(Admission::Admitted.deny_code(), None);
    assert!(Admission::AlreadyActive.is_admitted());
    assert!(!Admission::DeviceMismatch.is_admitted());
}

fn self_service(cooldown_secs: i64, per_30d: u32) -> Policy {
    Policy {
        transfer: TransferMode::SelfService,
        transfer_cooldown: HumanDuration::from_secs(cooldown_secs),
        transfers_per_30d: per_30d,
        ..Policy::default()
    }
}

#[test]
fn manual_transfer_is_never_allowed() {
    let manual = Policy {
        transfer: TransferMode::Manual,
        ..Policy::default()
    };
    assert_eq!(
        check_transfer(&manual, &[], t(0)),
        Err(TransferDenial::NotAllowed)
    );
    assert_eq!(
        check_transfer(&self_service(0, 0), &[], t(0)),
        Err(TransferDenial::NotAllowed)
    );
    assert_eq!(TransferDenial::NotAllowed.code(), DenyCode::TransferNotAllowed);
    assert_eq!(
        TransferDenial::Cooldown { retry_at: t(0) }.code(),
        DenyCode::TransferCooldown
    );
}

#[test]
fn cooldown_boundaries() {
    let policy = self_service(24 * HOUR, 3);
    let last = t(0);
    let cases = [
        (
            24 * HOUR - 1,
            Err(TransferDenial::Cooldown {
                retry_at: t(24 * HOUR),
            }),
        ),
        (24 * HOUR, Ok(())),
        (24 * HOUR + 1, Ok(())),
        (
            0,
            Err(TransferDenial::Cooldown {
                retry_at: t(24 * HOUR),
            }),
        ),
    ];
    for (now, expected) in cases {
        assert_eq!(
            check_transfer(&policy, &[last], t(now)),
            expected,
            "now = +{now}s"
        );
    }
    // The latest transfer counts, whatever the order given.
    assert_eq!(
        check_transfer(&policy, &[t(HOUR), t(-5 * DAY)], t(24 * HOUR)),
        Err(TransferDenial::Cooldown {
            retry_at: t(25 * HOUR)
        })
    );
    assert_eq!(check_transfer(&policy, &[], t(0)), Ok(()));
}

#[test]
fn thirty_day_budget() {
    let policy = self_service(HOUR, 3);
    // Three transfers 10 days apart; the oldest at day 0.
    let used = [t(0), t(10 * DAY), t(20 * DAY)];
    let cases = [
        // Day 25: all three in the window; retry when the oldest ages out at day 30.
        (
            25 * DAY,
            Err(TransferDenial::Cooldown {
                retry_at: t(30 * DAY),
            }),
        ),
        (
            30 * DAY - 1,
            Err(TransferDenial::Cooldown {
                retry_at: t(30 * DAY),
            }),
        ),
        (30 * DAY, Ok(())),
    ];
    for (now, expected) in cases {
        assert_eq!(
            check_transfer(&policy, &used, t(now)),
            expected,
            "now = day {}",
            now / DAY
        );
    }
    // Two used of three: allowed.
    assert_eq!(check_transfer(&policy, &used[1..], t(25 * DAY)), Ok(()));
    // Over budget (the budget was lowered): wait until enough age out to free one.
    let lowered = self_service(HOUR, 2);
    assert_eq!(
        check_transfer(&lowered, &used, t(25 * DAY)),
        Err(TransferDenial::Cooldown {
            retry_at: t(40 * DAY)
        })
    );
    // Both rules refuse: the later time wins.
    let both = self_service(10 * DAY, 3);
    assert_eq!(
        check_transfer(&both, &used, t(25 * DAY)),
        Err(TransferDenial::Cooldown {
            retry_at: t(30 * DAY)
        })
    );
    let both = self_service(15 * DAY, 3);
    assert_eq!(
        check_transfer(&both, &used, t(25 * DAY)),
        Err(TransferDenial::Cooldown {
            retry_at: t(35 * DAY)
        })
    );
}

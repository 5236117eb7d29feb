//! The pool's error handler: a database that stays down logs its connection error once, then once a minute with
//! how often it repeated, instead of r2d2's one ERROR line per background attempt (several a second).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::connection::ConnectError;

/// How long repeats of one error are counted before they are logged.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(60);

/// Logs each distinct connection error at once, and a repeat of the same error at most once per
/// [`REPEAT_WINDOW`], with the number of repeats.
#[derive(Debug, Default)]
pub(crate) struct RepeatedErrors {
    last: Mutex<Option<Repeats>>,
}

#[derive(Debug)]
struct Repeats {
    message: String,
    since: Instant,
    count: u64,
}

/// What to log for one error at `now`: `None` while it is being counted.
fn record(last: &mut Option<Repeats>, message: String, now: Instant) -> Vec<String> {
    let mut lines = Vec::new();
    match last {
        Some(repeats) if repeats.message == message => {
            repeats.count += 1;
            if now.duration_since(repeats.since) >= REPEAT_WINDOW {
                lines.push(summary(repeats));
                repeats.since = now;
                repeats.count = 0;
            }
        }
        _ => {
            if let Some(previous) = last.take().filter(|r| r.count > 0) {
                lines.push(summary(&previous));
            }
            lines.push(message.clone());
            *last = Some(Repeats {
                message,
                since: now,
                count: 0,
            });
        }
    }
    lines
}

fn summary(repeats: &Repeats) -> String {
    format!(
        "{} (repeated {} {} in the last {} s)",
        repeats.message,
        repeats.count,
        if repeats.count == 1 { "time" } else { "times" },
        REPEAT_WINDOW.as_secs()
    )
}

impl r2d2::HandleError<ConnectError> for RepeatedErrors {
    fn handle_error(&self, error: ConnectError) {
        let lines = record(&mut self.last.lock(), error.to_string(), Instant::now());
        for line in lines {
            log::error!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_error_is_logged_once_then_once_a_window_with_its_count() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut last = None;
        let down = || "cannot connect to PostgreSQL: connection refused".to_owned();
        assert_eq!(record(&mut last, down(), at(0)), [down()]);
        // Two a second for the rest of the minute: counted, not logged.
        for half_second in 1..120 {
            assert!(
                record(
                    &mut last,
                    down(),
                    start + Duration::from_millis(500 * half_second)
                )
                .is_empty()
            );
        }
        assert_eq!(
            record(&mut last, down(), at(60)),
            ["cannot connect to PostgreSQL: connection refused (repeated 120 times in the last 60 s)"]
        );
        assert!(record(&mut last, down(), at(61)).is_empty());
        // Another error: the pending count is logged first, then the new error at once.
        assert_eq!(
            record(&mut last, "timeout".to_owned(), at(62)),
            [
                "cannot connect to PostgreSQL: connection refused (repeated 1 time in the last 60 s)"
                    .to_owned(),
                "timeout".to_owned()
            ]
        );
        assert!(record(&mut last, "timeout".to_owned(), at(63)).is_empty());
    }
}

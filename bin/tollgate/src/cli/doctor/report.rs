//! The checklist `doctor` prints: each item done, pending or broken, with how to fix it.

use std::fmt::Write as _;

use serde::Serialize;

/// Where a setup item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Set up.
    Done,
    /// Not set up yet; Tollgate runs without it (a provider stays disabled, an API stays closed, ...).
    Pending,
    /// Wrong: Tollgate cannot work as configured.
    Broken,
}

impl Status {
    fn mark(self) -> &'static str {
        match self {
            Status::Done => "✔",
            Status::Pending => "○",
            Status::Broken => "✘",
        }
    }
}

/// One checklist item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// A stable id, e.g. `providers.whop.webhook_secret`.
    pub id: String,
    /// The heading it is printed under.
    pub section: String,
    pub status: Status,
    /// What was found.
    pub summary: String,
    /// How to fix a pending or broken item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Further facts (URLs to paste, events to enable, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Check {
    pub fn new(section: &str, id: impl Into<String>, status: Status, summary: impl Into<String>) -> Self {
        Check {
            id: id.into(),
            section: section.to_owned(),
            status,
            summary: summary.into(),
            fix: None,
            notes: Vec::new(),
        }
    }

    pub fn done(section: &str, id: impl Into<String>, summary: impl Into<String>) -> Self {
        Self::new(section, id, Status::Done, summary)
    }

    pub fn pending(section: &str, id: impl Into<String>, summary: impl Into<String>) -> Self {
        Self::new(section, id, Status::Pending, summary)
    }

    pub fn broken(section: &str, id: impl Into<String>, summary: impl Into<String>) -> Self {
        Self::new(section, id, Status::Broken, summary)
    }

    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The whole checklist.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub done: usize,
    pub pending: usize,
    pub broken: usize,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Self {
        let count = |status| checks.iter().filter(|c| c.status == status).count();
        let (done, pending, broken) = (count(Status::Done), count(Status::Pending), count(Status::Broken));
        Report {
            ok: broken == 0,
            done,
            pending,
            broken,
            checks,
        }
    }

    /// The readable checklist, grouped by section in the order the checks were made.
    pub fn render(&self) -> String {
        let mut out = String::from("Tollgate setup check\n");
        let mut section = "";
        for check in &self.checks {
            if check.section != section {
                section = &check.section;
                let _ = write!(out, "\n{section}\n");
            }
            let _ = writeln!(out, "  {} {}", check.status.mark(), check.summary);
            if let Some(fix) = &check.fix {
                let _ = writeln!(out, "      fix: {fix}");
            }
            for note in &check.notes {
                let _ = writeln!(out, "      {note}");
            }
        }
        let _ = write!(
            out,
            "\n{} done, {} pending, {} broken. ",
            self.done, self.pending, self.broken
        );
        out.push_str(match (self.broken, self.pending) {
            (0, 0) => "Everything is set up.\n",
            (0, _) => "Nothing is broken: Tollgate runs, and each pending item enables more of it.\n",
            _ => "Fix the broken items (✘) first.\n",
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_renders_by_section() {
        let report = Report::new(vec![
            Check::done("Database", "database.reachable", "reachable"),
            Check::pending("Database", "database.migrations", "2 migrations not applied")
                .fix("tollgate migrate"),
            Check::broken("Providers", "providers.dodo.webhook_secret", "not base64").note("see docs"),
        ]);
        assert_eq!(
            (report.ok, report.done, report.pending, report.broken),
            (false, 1, 1, 1)
        );
        assert_eq!(
            report.render(),
            "Tollgate setup check\n\nDatabase\n  ✔ reachable\n  ○ 2 migrations not applied\n      fix: tollgate \
             migrate\n\nProviders\n  ✘ not base64\n      see docs\n\n1 done, 1 pending, 1 broken. Fix the broken \
             items (✘) first.\n"
        );
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][1]["status"], "pending");
        assert_eq!(json["checks"][0].get("fix"), None);
    }
}

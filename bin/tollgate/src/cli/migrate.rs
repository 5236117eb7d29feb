//! `tollgate migrate`: apply the pending embedded migrations and say which ran.

use crate::cli::CliError;
use crate::settings::Settings;
use crate::startup::open_store;

pub fn run(settings: &Settings) -> Result<(), CliError> {
    let store = open_store(settings)?;
    let applied = store.migrate()?;
    let backend = store.database_url().backend();
    if applied.is_empty() {
        println!("{backend} database is up to date: no migration to apply");
    } else {
        println!(
            "applied {} migration(s) to the {backend} database:",
            applied.len()
        );
        for name in &applied {
            println!("  {name}");
        }
    }
    Ok(())
}

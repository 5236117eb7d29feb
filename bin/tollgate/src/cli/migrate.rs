//! `tollgate migrate`: apply the pending embedded migrations and say which ran; and the migrated store the read
//! commands (`inbox`, `entitlements`) open.

use tollgate_store::{DatabaseUrl, Store};

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

/// The store, refusing an unmigrated database with what to do rather than a confusing SQL error.
pub fn open_migrated(settings: &Settings) -> Result<Store, CliError> {
    let url = DatabaseUrl::parse(settings.database.url.expose())?;
    if let Some(path) = url.sqlite_path().filter(|path| !path.exists()) {
        return Err(CliError::Failed(format!(
            "the database {} does not exist yet: run `tollgate migrate` (or start `tollgate serve`), or point \
             database.url (TOLLGATE_DATABASE__URL) at the existing one",
            path.display()
        )));
    }
    let store = open_store(settings)?;
    if !store.is_migrated()? {
        return Err(CliError::Failed(
            "the database is not migrated yet: run `tollgate migrate` (or start `tollgate serve` once)"
                .to_owned(),
        ));
    }
    Ok(store)
}

//! Lease signing keys: the private key encrypted at rest, the public key in clear for the JWKS.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::error::{Result, StoreError};
use crate::schema::signing_keys;
use crate::store::Store;
use crate::time::{from_db, opt_from_db, opt_to_db, to_db};

/// Private key bytes (PKCS#8). `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyBytes(Vec<u8>);

impl PrivateKeyBytes {
    pub fn new(pkcs8: Vec<u8>) -> Self {
        PrivateKeyBytes(pkcs8)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyBytes([redacted])")
    }
}

/// A signing key to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSigningKey {
    pub kid: String,
    /// For example `EdDSA`.
    pub algorithm: String,
    pub private_key: PrivateKeyBytes,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// A stored signing key, with its private key decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key: PrivateKeyBytes,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When it stopped signing new leases.
    pub retired_at: Option<DateTime<Utc>>,
    /// After this it is no longer published (every lease it signed has expired).
    pub not_after: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
struct SigningKeyRow {
    kid: String,
    algorithm: String,
    private_key: Vec<u8>,
    public_key: Vec<u8>,
    created_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
    not_after: Option<NaiveDateTime>,
}

fn private_key_aad(kid: &str) -> String {
    format!("tollgate/v1/signing_keys.private_key/{kid}")
}

impl Store {
    /// Store a new signing key; a `kid` that exists already is [`StoreError::Conflict`].
    pub fn insert_signing_key(&self, key: &NewSigningKey) -> Result<()> {
        let row = SigningKeyRow {
            kid: key.kid.clone(),
            algorithm: key.algorithm.clone(),
            private_key: self
                .keys()
                .seal(&private_key_aad(&key.kid), key.private_key.as_bytes())?,
            public_key: key.public_key.clone(),
            created_at: to_db(key.created_at),
            retired_at: None,
            not_after: None,
        };
        let mut conn = self.conn()?;
        match diesel::insert_into(signing_keys::table)
            .values(&row)
            .execute(&mut *conn)
        {
            Ok(_) => Ok(()),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict { reason, .. } => Err(StoreError::Conflict {
                    entity: "signing key",
                    reason,
                }),
                other => Err(other),
            },
        }
    }

    /// Every stored signing key, oldest first, with private keys decrypted.
    pub fn list_signing_keys(&self) -> Result<Vec<SigningKey>> {
        let mut conn = self.conn()?;
        let rows = signing_keys::table
            .order((signing_keys::created_at.asc(), signing_keys::kid.asc()))
            .select(SigningKeyRow::as_select())
            .load(&mut *conn)?;
        rows.into_iter()
            .map(|row| {
                let private_key =
                    self.keys()
                        .open("signing key", &private_key_aad(&row.kid), &row.private_key)?;
                Ok(SigningKey {
                    kid: row.kid,
                    algorithm: row.algorithm,
                    private_key: PrivateKeyBytes(private_key),
                    public_key: row.public_key,
                    created_at: from_db(row.created_at),
                    retired_at: opt_from_db(row.retired_at),
                    not_after: opt_from_db(row.not_after),
                })
            })
            .collect()
    }

    /// Stop using a key for new leases at `at`; keep publishing it until `not_after`.
    pub fn retire_signing_key(
        &self,
        kid: &str,
        at: DateTime<Utc>,
        not_after: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let mut conn = self.conn()?;
        let updated = diesel::update(signing_keys::table.find(kid))
            .set((
                signing_keys::retired_at.eq(Some(to_db(at))),
                signing_keys::not_after.eq(opt_to_db(not_after)),
            ))
            .execute(&mut *conn)?;
        if updated == 0 {
            return Err(StoreError::not_found("signing key", kid));
        }
        Ok(())
    }
}

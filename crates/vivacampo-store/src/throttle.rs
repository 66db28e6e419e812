//! The per-account sign-in backoff (`login_throttle` table), shared by every API replica.
//!
//! An attempt is counted as a failure *before* the password is checked, in one transaction with
//! the row locked, so parallel guesses from many addresses or replicas cannot slip past the
//! backoff while the slow password hash runs; a correct password then deletes the row. The wait
//! grows with the failures ([`vivacampo_core::credentials::login_backoff`]) and is capped, so an
//! attacker can delay the real owner of an account by that cap at most, never lock them out.

use std::time::Duration;

use vivacampo_core::credentials::login_backoff;

use crate::accounts::normalise_email;
use crate::{Backend, Result, Store, col, now_ms};

/// Failures older than this are forgotten.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// Starts a sign-in attempt for `email` (known or not): `Some(wait)` while the account's
    /// backoff runs (the attempt is refused and not counted), else `None` and the attempt is
    /// counted as a failure until [`Store::login_succeeded`] clears it.
    pub async fn begin_login_attempt(&self, email: &str) -> Result<Option<Duration>> {
        let email = normalise_email(email);
        let now = now_ms();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM login_throttle WHERE updated_at < $1")
            .bind(now - FORGET_AFTER_MS)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO login_throttle (email, failures, locked_until, updated_at) VALUES ($1, 0, 0, $2)
             ON CONFLICT (email) DO NOTHING",
        )
        .bind(&email)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let lock = match self.backend() {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR UPDATE",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT failures, locked_until FROM login_throttle WHERE email = $1{lock}"
        )))
        .bind(&email)
        .fetch_one(&mut *tx)
        .await?;
        let failures: i64 = col(&row, "failures")?;
        let locked_until: i64 = col(&row, "locked_until")?;
        if now < locked_until {
            tx.rollback().await?;
            return Ok(Some(Duration::from_millis((locked_until - now) as u64)));
        }
        let failures = failures.saturating_add(1);
        let wait = login_backoff(u32::try_from(failures).unwrap_or(u32::MAX));
        sqlx::query(
            "UPDATE login_throttle SET failures = $2, locked_until = $3, updated_at = $4 WHERE email = $1",
        )
        .bind(&email)
        .bind(failures)
        .bind(now + wait.as_millis() as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(None)
    }

    /// The password was right: the account's failures are forgotten.
    pub async fn login_succeeded(&self, email: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM login_throttle WHERE email = $1")
            .bind(normalise_email(email))
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

//! Identities, tenants, memberships and sessions.
//!
//! Passwords arrive here already hashed and tokens already digested: the store never sees a
//! secret in clear.

use vivacampo_core::tenancy::{DEFAULT_PLAN, Quotas, Role, TenantKind, TenantStatus};

use crate::audit::{self, AuditEntry};
use crate::{Page, PageRequest, Result, Store, StoreError, col, new_id, now_ms, parse_col};

/// A person who can sign in.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    pub id: String,
    pub email: String,
    pub name: String,
    pub is_system_admin: bool,
    pub created_at: i64,
}

/// An identity with its password hash, for sign-in only.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub identity: Identity,
    pub password_hash: String,
}

/// A workspace: the unit that owns farms, fields and jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub kind: TenantKind,
    pub status: TenantStatus,
    pub plan: String,
    pub quotas: Quotas,
    pub min_valid_pixel_ratio: f64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One tenant an identity belongs to, with its role there.
#[derive(Debug, Clone, PartialEq)]
pub struct Membership {
    pub tenant_id: String,
    pub tenant_name: String,
    pub tenant_status: TenantStatus,
    pub role: Role,
}

/// What a valid bearer token stands for.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub identity: Identity,
    pub tenant: Tenant,
    pub role: Role,
    pub expires_at: i64,
}

/// A new identity to create.
pub struct NewIdentity<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    pub is_system_admin: bool,
}

/// A new tenant to create.
pub struct NewTenant<'a> {
    pub name: &'a str,
    pub kind: TenantKind,
    pub plan: Option<&'a str>,
    pub quotas: Option<Quotas>,
}

/// A change to a tenant by a system admin; `None` leaves a value as it is.
#[derive(Debug, Default, Clone)]
pub struct TenantPatch {
    pub name: Option<String>,
    pub status: Option<TenantStatus>,
    pub plan: Option<String>,
    pub max_fields: Option<i64>,
    pub max_hectares: Option<f64>,
    pub min_valid_pixel_ratio: Option<f64>,
}

const TENANT_COLUMNS: &str = "t.id, t.name, t.kind, t.status, t.plan, t.max_fields, t.max_hectares, t.min_valid_pixel_ratio, t.created_at, t.updated_at";

fn tenant_from(row: &sqlx::any::AnyRow) -> Result<Tenant> {
    Ok(Tenant {
        id: col(row, "id")?,
        name: col(row, "name")?,
        kind: parse_col(row, "kind")?,
        status: parse_col(row, "status")?,
        plan: col(row, "plan")?,
        quotas: Quotas {
            max_fields: col(row, "max_fields")?,
            max_hectares: col(row, "max_hectares")?,
        },
        min_valid_pixel_ratio: col(row, "min_valid_pixel_ratio")?,
        created_at: col(row, "created_at")?,
        updated_at: col(row, "updated_at")?,
    })
}

fn identity_from(row: &sqlx::any::AnyRow, prefix: &str) -> Result<Identity> {
    let flag: i64 = col(row, &format!("{prefix}is_system_admin"))?;
    Ok(Identity {
        id: col(row, &format!("{prefix}id"))?,
        email: col(row, &format!("{prefix}email"))?,
        name: col(row, &format!("{prefix}name"))?,
        is_system_admin: flag != 0,
        created_at: col(row, &format!("{prefix}created_at"))?,
    })
}

/// Emails are compared case-insensitively and without surrounding blanks.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

async fn insert_identity(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    new: &NewIdentity<'_>,
) -> Result<Identity> {
    let identity = Identity {
        id: new_id(),
        email: normalise_email(new.email),
        name: new.name.trim().to_owned(),
        is_system_admin: new.is_system_admin,
        created_at: now_ms(),
    };
    sqlx::query(
        "INSERT INTO identities (id, email, name, password_hash, is_system_admin, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&identity.id)
    .bind(&identity.email)
    .bind(&identity.name)
    .bind(new.password_hash)
    .bind(i64::from(identity.is_system_admin))
    .bind(identity.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("an account with email {} already exists", identity.email)),
        other => other,
    })?;
    Ok(identity)
}

async fn insert_tenant(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    new: &NewTenant<'_>,
) -> Result<Tenant> {
    let now = now_ms();
    let tenant = Tenant {
        id: new_id(),
        name: new.name.trim().to_owned(),
        kind: new.kind,
        status: TenantStatus::Active,
        plan: new.plan.unwrap_or(DEFAULT_PLAN).to_owned(),
        quotas: new.quotas.unwrap_or_else(|| Quotas::default_for(new.kind)),
        min_valid_pixel_ratio: 0.15,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO tenants (id, name, kind, status, plan, max_fields, max_hectares, min_valid_pixel_ratio, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&tenant.id)
    .bind(&tenant.name)
    .bind(tenant.kind.as_str())
    .bind(tenant.status.as_str())
    .bind(&tenant.plan)
    .bind(tenant.quotas.max_fields)
    .bind(tenant.quotas.max_hectares)
    .bind(tenant.min_valid_pixel_ratio)
    .bind(tenant.created_at)
    .bind(tenant.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(tenant)
}

async fn insert_membership(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    tenant_id: &str,
    identity_id: &str,
    role: Role,
) -> Result<()> {
    sqlx::query("INSERT INTO memberships (tenant_id, identity_id, role, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant_id)
        .bind(identity_id)
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&mut **tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => StoreError::Conflict("the identity is already a member of this tenant".into()),
            other => other,
        })?;
    Ok(())
}

impl Store {
    /// Creates an identity.
    pub async fn create_identity(&self, new: NewIdentity<'_>) -> Result<Identity> {
        let mut tx = self.begin().await?;
        let identity = insert_identity(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(identity)
    }

    /// Creates a tenant.
    pub async fn create_tenant(
        &self,
        new: NewTenant<'_>,
        actor_id: Option<&str>,
    ) -> Result<Tenant> {
        let mut tx = self.begin().await?;
        let tenant = insert_tenant(&mut tx, &new).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(&tenant.id),
                actor_id,
                action: "CREATE",
                resource_type: "tenant",
                resource_id: &tenant.id,
                details: serde_json::json!({"name": tenant.name, "kind": tenant.kind.as_str()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(tenant)
    }

    /// Adds an identity to a tenant with a role.
    pub async fn add_membership(
        &self,
        tenant_id: &str,
        identity_id: &str,
        role: Role,
        actor_id: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        insert_membership(&mut tx, tenant_id, identity_id, role).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id,
                action: "ADD_MEMBER",
                resource_type: "membership",
                resource_id: identity_id,
                details: serde_json::json!({"role": role.as_str()}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sign-up: an identity, a PERSONAL tenant and its TENANT_ADMIN membership, all or nothing.
    pub async fn sign_up(
        &self,
        new: NewIdentity<'_>,
        workspace_name: &str,
    ) -> Result<(Identity, Tenant)> {
        let mut tx = self.begin().await?;
        let identity = insert_identity(&mut tx, &new).await?;
        let tenant = insert_tenant(
            &mut tx,
            &NewTenant {
                name: workspace_name,
                kind: TenantKind::Personal,
                plan: None,
                quotas: None,
            },
        )
        .await?;
        insert_membership(&mut tx, &tenant.id, &identity.id, Role::TenantAdmin).await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(&tenant.id),
                actor_id: Some(&identity.id),
                action: "SIGN_UP",
                resource_type: "identity",
                resource_id: &identity.id,
                details: serde_json::json!({"email": identity.email}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok((identity, tenant))
    }

    /// The identity and password hash for an email, if such an account exists.
    pub async fn credentials(&self, email: &str) -> Result<Option<Credentials>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(
            "SELECT id, email, name, is_system_admin, created_at, password_hash FROM identities WHERE email = $1",
        )
        .bind(normalise_email(email))
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(Credentials {
                identity: identity_from(&r, "")?,
                password_hash: col(&r, "password_hash")?,
            })
        })
        .transpose()
    }

    /// An identity by email.
    pub async fn identity_by_email(&self, email: &str) -> Result<Option<Identity>> {
        Ok(self.credentials(email).await?.map(|c| c.identity))
    }

    /// Sets the system-admin flag of an identity.
    pub async fn set_system_admin(&self, identity_id: &str, is_admin: bool) -> Result<()> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE identities SET is_system_admin = $1 WHERE id = $2")
            .bind(i64::from(is_admin))
            .bind(identity_id)
            .execute(&mut *conn)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The tenants an identity belongs to, oldest membership first.
    pub async fn memberships(&self, identity_id: &str) -> Result<Vec<Membership>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT m.tenant_id, t.name AS tenant_name, t.status AS tenant_status, m.role FROM memberships m
             JOIN tenants t ON t.id = m.tenant_id WHERE m.identity_id = $1 ORDER BY m.created_at, t.name",
        )
        .bind(identity_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    tenant_id: col(r, "tenant_id")?,
                    tenant_name: col(r, "tenant_name")?,
                    tenant_status: parse_col(r, "tenant_status")?,
                    role: parse_col(r, "role")?,
                })
            })
            .collect()
    }

    /// Stores a new session for a token digest.
    pub async fn create_session(
        &self,
        token_hash: &str,
        identity_id: &str,
        tenant_id: &str,
        expires_at: i64,
    ) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, identity_id, tenant_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(identity_id)
        .bind(tenant_id)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// The session of a token digest if it is unexpired, unrevoked and its membership still exists.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS}, s.expires_at, m.role,
                    i.id AS i_id, i.email AS i_email, i.name AS i_name, i.is_system_admin AS i_is_system_admin,
                    i.created_at AS i_created_at
             FROM sessions s
             JOIN identities i ON i.id = s.identity_id
             JOIN memberships m ON m.identity_id = s.identity_id AND m.tenant_id = s.tenant_id
             JOIN tenants t ON t.id = s.tenant_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2"
        )))
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(Session {
                identity: identity_from(&r, "i_")?,
                tenant: tenant_from(&r)?,
                role: parse_col(&r, "role")?,
                expires_at: col(&r, "expires_at")?,
            })
        })
        .transpose()
    }

    /// Revokes a session at once. Revoking twice is harmless.
    pub async fn revoke_session(&self, token_hash: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(now_ms())
        .bind(token_hash)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Deletes sessions that expired more than a day ago.
    pub async fn purge_expired_sessions(&self) -> Result<u64> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now_ms() - 86_400_000)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }

    /// A tenant by id.
    pub async fn tenant(&self, tenant_id: &str) -> Result<Tenant> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.id = $1"
        )))
        .bind(tenant_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
        tenant_from(&row)
    }

    /// All tenants, by name (system admin).
    pub async fn list_tenants(&self, page: PageRequest) -> Result<Page<Tenant>> {
        let mut conn = self.conn().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(&mut *conn)
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t ORDER BY t.name, t.id LIMIT $1 OFFSET $2"
        )))
        .bind(page.limit())
        .bind(page.offset())
        .fetch_all(&mut *conn)
        .await?;
        let items = rows.iter().map(tenant_from).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    /// Changes a tenant (system admin), with an audit row of what changed.
    pub async fn update_tenant(
        &self,
        tenant_id: &str,
        patch: TenantPatch,
        actor_id: Option<&str>,
    ) -> Result<Tenant> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.id = $1"
        )))
        .bind(tenant_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let before = tenant_from(&row)?;
        let mut after = before.clone();
        if let Some(name) = &patch.name {
            after.name = name.trim().to_owned();
        }
        if let Some(status) = patch.status {
            after.status = status;
        }
        if let Some(plan) = &patch.plan {
            after.plan = plan.clone();
        }
        if let Some(max_fields) = patch.max_fields {
            after.quotas.max_fields = max_fields;
        }
        if let Some(max_hectares) = patch.max_hectares {
            after.quotas.max_hectares = max_hectares;
        }
        if let Some(ratio) = patch.min_valid_pixel_ratio {
            after.min_valid_pixel_ratio = ratio;
        }
        after.updated_at = now_ms();
        sqlx::query(
            "UPDATE tenants SET name = $1, status = $2, plan = $3, max_fields = $4, max_hectares = $5,
             min_valid_pixel_ratio = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(&after.name)
        .bind(after.status.as_str())
        .bind(&after.plan)
        .bind(after.quotas.max_fields)
        .bind(after.quotas.max_hectares)
        .bind(after.min_valid_pixel_ratio)
        .bind(after.updated_at)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            AuditEntry {
                tenant_id: Some(tenant_id),
                actor_id,
                action: "UPDATE",
                resource_type: "tenant",
                resource_id: tenant_id,
                details: serde_json::json!({
                    "before": {"name": before.name, "status": before.status.as_str(), "plan": before.plan,
                               "max_fields": before.quotas.max_fields, "max_hectares": before.quotas.max_hectares},
                    "after": {"name": after.name, "status": after.status.as_str(), "plan": after.plan,
                              "max_fields": after.quotas.max_fields, "max_hectares": after.quotas.max_hectares},
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(after)
    }
}

impl Store {
    /// Tenants whose name is exactly `name` (names are not unique).
    pub async fn tenants_named(&self, name: &str) -> Result<Vec<Tenant>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TENANT_COLUMNS} FROM tenants t WHERE t.name = $1 ORDER BY t.created_at"
        )))
        .bind(name.trim())
        .fetch_all(&mut *conn)
        .await?;
        rows.iter().map(tenant_from).collect()
    }
}

//! `vivacampo admin …`: bootstrap and operate accounts and the job queue from a shell.

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use vivacampo_core::jobs::JobStatus;
use vivacampo_core::tenancy::{Quotas, Role, TenantKind};
use vivacampo_store::accounts::{NewIdentity, NewTenant, Tenant};
use vivacampo_store::queue::JobFilter;
use vivacampo_store::{PageRequest, Store};

use crate::config::Settings;
use crate::roles::open_store;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create a user and make them a member of a tenant (created if no tenant has that name).
    CreateUser {
        /// The user's sign-in email.
        #[arg(long)]
        email: String,
        /// At least 8 characters.
        #[arg(long)]
        password: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// Tenant id or exact name.
        #[arg(long, value_name = "TENANT")]
        tenant: String,
        /// TENANT_ADMIN, OPERATOR or VIEWER.
        #[arg(long, default_value = "TENANT_ADMIN")]
        role: String,
        /// Also make the user a system administrator (reaches /v1/admin).
        #[arg(long)]
        system_admin: bool,
    },
    /// Create a tenant (workspace).
    CreateTenant {
        /// The tenant's name.
        #[arg(long)]
        name: String,
        /// COMPANY or PERSONAL.
        #[arg(long = "type", default_value = "COMPANY")]
        kind: String,
        /// Plan name, shown in the tenant list.
        #[arg(long)]
        plan: Option<String>,
        /// Quota: most fields [default: 500 for COMPANY, 25 for PERSONAL].
        #[arg(long)]
        max_fields: Option<i64>,
        /// Quota: most hectares of fields [default: 200000 for COMPANY, 10000 for PERSONAL].
        #[arg(long)]
        max_hectares: Option<f64>,
    },
    /// Add an existing user to a tenant.
    AddMember {
        /// The user's sign-in email.
        #[arg(long)]
        email: String,
        /// Tenant id or exact name.
        #[arg(long, value_name = "TENANT")]
        tenant: String,
        /// TENANT_ADMIN, OPERATOR or VIEWER.
        #[arg(long, default_value = "VIEWER")]
        role: String,
    },
    /// List tenants.
    ListTenants,
    /// Put every DEAD job back in the queue (after fixing what killed them).
    RetryDead,
}

pub(crate) async fn find_tenant(store: &Store, reference: &str) -> anyhow::Result<Option<Tenant>> {
    if uuid::Uuid::parse_str(reference).is_ok() {
        match store.tenant(reference).await {
            Ok(t) => return Ok(Some(t)),
            Err(vivacampo_store::StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut named = store.tenants_named(reference).await?;
    match named.len() {
        0 => Ok(None),
        1 => Ok(named.pop()),
        n => bail!("{n} tenants are named {reference:?}; use the tenant id instead"),
    }
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    role.parse().map_err(|e| anyhow!("--role: {e}"))
}

pub async fn run(settings: &Settings, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    store.migrate().await?;
    let result = run_with(&store, command).await;
    store.close().await;
    result
}

async fn run_with(store: &Store, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateUser {
            email,
            password,
            name,
            tenant,
            role,
            system_admin,
        } => {
            let role = parse_role(&role)?;
            if let Err(problem) = vivacampo_core::credentials::check_password(&password, &email) {
                bail!("--password: {problem}");
            }
            let tenant = match find_tenant(store, &tenant).await? {
                Some(t) => t,
                None => {
                    let t = store
                        .create_tenant(
                            NewTenant {
                                name: &tenant,
                                kind: TenantKind::Company,
                                plan: None,
                                quotas: None,
                            },
                            None,
                        )
                        .await?;
                    eprintln!("created tenant {:?} ({})", t.name, t.id);
                    t
                }
            };
            let hash = tokio::task::spawn_blocking(move || {
                vivacampo_api::credentials::hash_password(&password)
            })
            .await?
            .map_err(|e| anyhow!("{e}"))?;
            let identity = store
                .create_identity(NewIdentity {
                    email: &email,
                    name: &name,
                    password_hash: &hash,
                    is_system_admin: system_admin,
                })
                .await
                .context("cannot create the user")?;
            store
                .add_membership(&tenant.id, &identity.id, role, None)
                .await?;
            println!(
                "{}",
                serde_json::json!({"identity_id": identity.id, "email": identity.email, "tenant_id": tenant.id,
                                   "tenant_name": tenant.name, "role": role.as_str(), "system_admin": system_admin})
            );
        }
        AdminCommand::CreateTenant {
            name,
            kind,
            plan,
            max_fields,
            max_hectares,
        } => {
            let kind: TenantKind = kind.parse().map_err(|e| anyhow!("--type: {e}"))?;
            let defaults = Quotas::default_for(kind);
            let quotas = Quotas {
                max_fields: max_fields.unwrap_or(defaults.max_fields),
                max_hectares: max_hectares.unwrap_or(defaults.max_hectares),
            };
            let tenant = store
                .create_tenant(
                    NewTenant {
                        name: &name,
                        kind,
                        plan: plan.as_deref(),
                        quotas: Some(quotas),
                    },
                    None,
                )
                .await?;
            println!(
                "{}",
                serde_json::json!({"tenant_id": tenant.id, "name": tenant.name, "type": tenant.kind.as_str()})
            );
        }
        AdminCommand::AddMember {
            email,
            tenant,
            role,
        } => {
            let role = parse_role(&role)?;
            let identity = store
                .identity_by_email(&email)
                .await?
                .ok_or_else(|| anyhow!("no user with email {email}"))?;
            let tenant = find_tenant(store, &tenant)
                .await?
                .ok_or_else(|| anyhow!("no tenant {tenant:?}"))?;
            store
                .add_membership(&tenant.id, &identity.id, role, None)
                .await?;
            println!(
                "{}",
                serde_json::json!({"identity_id": identity.id, "tenant_id": tenant.id, "role": role.as_str()})
            );
        }
        AdminCommand::ListTenants => {
            let mut page = 1;
            loop {
                let tenants = store
                    .list_tenants(PageRequest::new(Some(page), Some(200)).map_err(|e| anyhow!(e))?)
                    .await?;
                for t in &tenants.items {
                    println!("{}\t{}\t{}\t{}\t{}", t.id, t.kind, t.status, t.plan, t.name);
                }
                if i64::from(page) * 200 >= tenants.total {
                    break;
                }
                page += 1;
            }
        }
        AdminCommand::RetryDead => {
            let filter = JobFilter {
                status: Some(JobStatus::Dead),
                ..Default::default()
            };
            let mut retried = 0;
            loop {
                let dead = store
                    .list_jobs(
                        None,
                        &filter,
                        PageRequest::new(Some(1), Some(200)).map_err(|e| anyhow!(e))?,
                    )
                    .await?;
                if dead.items.is_empty() {
                    break;
                }
                for job in dead.items {
                    store
                        .retry_job(None, &job.id)
                        .await
                        .with_context(|| format!("cannot retry job {}", job.id))?;
                    retried += 1;
                }
            }
            println!("{}", serde_json::json!({"retried": retried}));
        }
    }
    Ok(())
}

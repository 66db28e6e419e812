//! Sign-up, sign-in, sign-out, workspace switch and `/v1/me`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use vivacampo_core::credentials::check_password as password_rule;
use vivacampo_store::accounts::{Identity, Membership, NewIdentity, Tenant};
use vivacampo_store::now_ms;

use crate::credentials::{decoy_hash, hash_password, new_token, token_digest, verify_password};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Auth, ClientIp};
use crate::state::AppState;
use crate::views::{CurrentTenantView, LoginView, MeView, MembershipView, rfc3339};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 10–256 characters; not one of the most common passwords (with digits or symbols
    /// appended or not), not the e-mail address or its part before the @.
    #[schema(schema_with = crate::openapi::schemas::password)]
    pub password: String,
    #[schema(schema_with = crate::openapi::schemas::name)]
    pub name: String,
    /// Name of the personal workspace; defaults to the person's name.
    #[schema(schema_with = crate::openapi::schemas::name_or_null)]
    pub workspace_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchRequest {
    pub tenant_id: String,
}

pub(crate) fn check_email(email: &str) -> ApiResult<()> {
    if vivacampo_core::text::is_email(email) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "email",
            "invalid",
            "email address is not valid",
        ))
    }
}

/// The password rule of `vivacampo_core::credentials`: a 400 whose `details.reason` is
/// `too_short`, `too_long`, `too_common` or `same_as_email`.
pub(crate) fn check_password(password: &str, email: &str) -> ApiResult<()> {
    password_rule(password, email)
        .map_err(|problem| ApiError::invalid("password", problem.reason(), problem.to_string()))
}

pub(crate) fn check_name(field: &str, name: &str) -> ApiResult<String> {
    use vivacampo_core::text::{MAX_NAME_CHARS, NameError};
    vivacampo_core::text::name(name)
        .map(str::to_owned)
        .map_err(|e| {
            let message = match e {
                NameError::Empty => format!("{field} must not be empty"),
                NameError::TooLong => {
                    format!("{field} must have at most {MAX_NAME_CHARS} characters")
                }
                NameError::ControlCharacter => {
                    format!("{field} must not contain control characters")
                }
            };
            ApiError::invalid(field, e.reason(), message)
        })
}

fn current_tenant(tenant: &Tenant, role: vivacampo_core::tenancy::Role) -> CurrentTenantView {
    CurrentTenantView {
        id: tenant.id.clone(),
        name: tenant.name.clone(),
        role: role.to_string(),
        kind: tenant.kind.to_string(),
        status: tenant.status.to_string(),
    }
}

/// Issues a token for `identity` in `tenant_id` and builds the login answer.
async fn issue_session(
    state: &AppState,
    identity: &Identity,
    tenant_id: &str,
) -> ApiResult<LoginView> {
    let memberships = state.store().memberships(&identity.id).await?;
    let membership = memberships
        .iter()
        .find(|m| m.tenant_id == tenant_id)
        .ok_or_else(|| ApiError::not_found("workspace"))?;
    let tenant = state.store().tenant(tenant_id).await?;
    let token = new_token()?;
    let expires_at = now_ms() + state.config().token_ttl.as_millis() as i64;
    state
        .store()
        .create_session(&token_digest(&token), &identity.id, tenant_id, expires_at)
        .await?;
    Ok(LoginView {
        token,
        token_type: "Bearer",
        expires_at: rfc3339(expires_at),
        identity: identity.into(),
        tenant: current_tenant(&tenant, membership.role),
        memberships: memberships.iter().map(MembershipView::from).collect(),
    })
}

/// The workspace a fresh sign-in lands in: the oldest active membership, else the oldest.
fn home_tenant(memberships: &[Membership]) -> Option<&Membership> {
    memberships
        .iter()
        .find(|m| m.tenant_status == vivacampo_core::tenancy::TenantStatus::Active)
        .or_else(|| memberships.first())
}

fn rate_limit(state: &AppState, ip: std::net::IpAddr) -> ApiResult<()> {
    state
        .auth_limiter()
        .check(ip)
        .map_err(|retry_after| ApiError::RateLimited { retry_after })
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Creates an account with a personal workspace and signs it in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "auth", request_body = SignupRequest,
    responses((status = 201, body = LoginView),
              (status = 400, description = "VALIDATION_ERROR; for the password details.reason is too_short, too_long, \
                too_common or same_as_email", body = crate::views::ErrorBody),
              (status = 403, description = "sign-up is disabled", body = crate::views::ErrorBody),
              (status = 409, description = "email already registered", body = crate::views::ErrorBody),
              (status = 429, description = "RATE_LIMITED: too many attempts from this address (Retry-After)", body = crate::views::ErrorBody),
              (status = 503, description = "UNAVAILABLE: the database cannot be reached (Retry-After)", body = crate::views::ErrorBody)))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<(StatusCode, Json<LoginView>)> {
    if !state.config().signup_enabled {
        return Err(ApiError::Forbidden(
            "sign-up is disabled on this server; ask an administrator for an account".into(),
        ));
    }
    state
        .require(vivacampo_core::flags::Flag::Signup, None)
        .await?;
    rate_limit(&state, ip)?;
    check_email(&body.email)?;
    check_password(&body.password, &body.email)?;
    let name = check_name("name", &body.name)?;
    let workspace = match &body.workspace_name {
        Some(w) => check_name("workspace_name", w)?,
        None => name.clone(),
    };
    let password = body.password;
    let hash = blocking(move || hash_password(&password)).await??;
    let (identity, tenant) = state
        .store()
        .sign_up(
            NewIdentity {
                email: &body.email,
                name: &name,
                password_hash: &hash,
                is_system_admin: false,
            },
            &workspace,
        )
        .await?;
    let view = issue_session(&state, &identity, &tenant.id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginView),
              (status = 401, description = "wrong email or password (the same answer for both)", body = crate::views::ErrorBody),
              (status = 403, description = "the account belongs to no workspace", body = crate::views::ErrorBody),
              (status = 429, description = "RATE_LIMITED: too many attempts from this address, or wrong passwords for this \
                account (it waits 1 s, 2 s, 4 s, … up to 15 min after 5 in a row); Retry-After says how long", body = crate::views::ErrorBody),
              (status = 503, description = "UNAVAILABLE: the database cannot be reached (Retry-After)", body = crate::views::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Json<LoginView>> {
    rate_limit(&state, ip)?;
    // The account's backoff after wrong passwords, checked (and this attempt counted) before the
    // password, so parallel guesses cannot outrun it.
    if let Some(wait) = state.store().begin_login_attempt(&body.email).await? {
        return Err(ApiError::RateLimited {
            retry_after: wait.as_secs_f64().ceil().max(1.0) as u64,
        });
    }
    let wrong = || ApiError::Unauthenticated("wrong email or password".into());
    let credentials = state.store().credentials(&body.email).await?;
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let password = body.password;
    // An unknown email is checked against a decoy hash so both failures take as long.
    let valid = blocking(move || {
        verify_password(&password, stored.as_deref().unwrap_or_else(|| decoy_hash()))
    })
    .await?;
    let credentials = credentials.filter(|_| valid).ok_or_else(wrong)?;
    state.store().login_succeeded(&body.email).await?;
    let memberships = state.store().memberships(&credentials.identity.id).await?;
    let home = home_tenant(&memberships).ok_or_else(|| {
        ApiError::Forbidden("this account belongs to no workspace; ask an administrator".into())
    })?;
    Ok(Json(
        issue_session(&state, &credentials.identity, &home.tenant_id).await?,
    ))
}

/// Revokes the token at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::views::ErrorBody)))]
pub async fn logout(State(state): State<AppState>, auth: Auth) -> ApiResult<StatusCode> {
    state.store().revoke_session(&auth.token_digest).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Issues a token for another workspace the caller belongs to.
#[utoipa::path(post, path = "/v1/auth/workspaces/switch", tag = "auth", security(("bearer" = [])),
    request_body = SwitchRequest,
    responses((status = 200, body = LoginView), (status = 401, body = crate::views::ErrorBody),
              (status = 404, description = "not a member of that workspace", body = crate::views::ErrorBody)))]
pub async fn switch_workspace(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SwitchRequest>,
) -> ApiResult<Json<LoginView>> {
    Ok(Json(
        issue_session(&state, &auth.session.identity, body.tenant_id.trim()).await?,
    ))
}

/// Who the caller is, in which workspace, with which role.
#[utoipa::path(get, path = "/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = crate::views::ErrorBody)))]
pub async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<MeView>> {
    let session = &auth.session;
    let memberships = state.store().memberships(&session.identity.id).await?;
    Ok(Json(MeView {
        identity: (&session.identity).into(),
        tenant: current_tenant(&session.tenant, session.role),
        role: session.role.to_string(),
        memberships: memberships.iter().map(MembershipView::from).collect(),
        is_system_admin: session.identity.is_system_admin,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::IdentityView;

    #[test]
    fn email_and_password_rules() {
        assert!(check_email("ana@fazenda.com.br").is_ok());
        assert!(check_email("ana@localhost").is_err());
        assert!(check_email("@x.io").is_err());
        assert!(check_email("a b@x.io").is_err());
        let reason = |password: &str| match check_password(password, "ana@fazenda.com.br") {
            Err(ApiError::Validation { details, .. }) => details["reason"].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(reason("12345678"), "too_short");
        assert_eq!(reason("password123"), "too_common");
        assert_eq!(reason("ANA@fazenda.com.br"), "same_as_email");
        assert!(check_password("segredo-forte", "ana@fazenda.com.br").is_ok());
        assert_eq!(check_name("name", "  Ana ").unwrap(), "Ana");
        assert!(check_name("name", "   ").is_err());
        let padded = format!(" {} ", "a".repeat(199));
        assert!(
            check_name("name", &padded).is_err(),
            "201 characters as sent"
        );
    }

    #[test]
    fn identity_view_keeps_fields() {
        let i = Identity {
            id: "1".into(),
            email: "a@b.co".into(),
            name: "A".into(),
            is_system_admin: false,
            created_at: 0,
        };
        let v = IdentityView::from(&i);
        assert_eq!(
            (v.id.as_str(), v.email.as_str(), v.name.as_str()),
            ("1", "a@b.co", "A")
        );
    }
}

//! The OpenAPI document served at `/v1/openapi.json`, generated from the handlers' annotations.
//!
//! Each handler lists the answers its own logic gives (403, 404, 409, …). The answers that come
//! from the shared extractors are added here, once, so no route can forget them: a bearer token
//! (`Auth`) can be refused (401) and needs the database (503); a JSON body (`ApiJson`) can be
//! malformed (400) or too large (413); query parameters (`ApiQuery`) can be invalid (400); a path
//! id (`IdPath`) can name nothing (404). `tests/openapi.rs` holds the document to these rules,
//! and `scripts/api-contract-check.sh` checks it with an independent validator and a fuzzer.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::Response;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    admin, aois, auth, boundaries, farms, flags, jobs, ops, signals, weather, webhooks, weeks,
};
use crate::{tiles, views};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The answers every operation can give through the extractors it uses (see the module docs).
struct ExtractorResponses;

fn error_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        Response::builder()
            .description(description)
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build(),
    )
}

fn ensure(operation: &mut Operation, status: &str, description: &str) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| error_response(description));
}

impl Modify for ExtractorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let params = operation.parameters.as_deref().unwrap_or_default();
                let has_in = |place: ParameterIn| params.iter().any(|p| p.parameter_in == place);
                let (query, path) = (has_in(ParameterIn::Query), has_in(ParameterIn::Path));
                let body = operation.request_body.is_some();
                if secured {
                    ensure(
                        operation,
                        "401",
                        "UNAUTHENTICATED: no token, or an invalid, expired or revoked one",
                    );
                    ensure(
                        operation,
                        "503",
                        "UNAVAILABLE: the database cannot be reached or has no free connection (Retry-After)",
                    );
                }
                if body || query {
                    ensure(
                        operation,
                        "400",
                        "VALIDATION_ERROR: details.field names the input, details.reason says why",
                    );
                }
                if body {
                    ensure(
                        operation,
                        "413",
                        "PAYLOAD_TOO_LARGE: the body is over the configured limit",
                    );
                }
                if path {
                    ensure(
                        operation,
                        "404",
                        "NOT_FOUND: nothing of that id in the caller's workspace",
                    );
                }
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "VivaCampo API", description = "Satellite crop monitoring: farms, fields, jobs, tiles. The human contract is docs/api.md."),
    modifiers(&BearerAuth, &ExtractorResponses),
    paths(
        auth::signup, auth::login, auth::logout, auth::switch_workspace, auth::me,
        farms::create, farms::list, farms::get, farms::update, farms::delete,
        aois::create, aois::list, aois::get, aois::update, aois::delete, aois::backfill,
        boundaries::import, boundaries::export_geojson, boundaries::export_kml, boundaries::export_shapefile,
        weeks::history, weeks::weeks, weeks::raster, weeks::radar_raster,
        weather::weather, weather::forecast, weather::sync,
        signals::list, signals::get, signals::ack, signals::resolve, signals::dismiss,
        jobs::list, jobs::get, jobs::runs, jobs::retry, jobs::cancel,
        webhooks::list, webhooks::create, webhooks::delete, webhooks::deliveries, webhooks::test,
        webhooks::my_prefs, webhooks::set_my_prefs,
        admin::queues, admin::jobs, admin::retry_job, admin::tenants, admin::create_tenant, admin::update_tenant,
        tiles::tilejson, tiles::tile, tiles::indices,
        flags::list, flags::set, flags::mine, ops::status,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(views::ErrorBody, views::ErrorDetail)),
    tags(
        (name = "auth", description = "Accounts, sessions and workspaces"),
        (name = "farms"), (name = "fields", description = "Fields (AOIs)"), (name = "jobs"),
        (name = "weather", description = "Daily and weekly weather of a field's grid cell (Open-Meteo, CC BY 4.0)"),
        (name = "signals", description = "Which fields need attention, why (evidence) and what to do"),
        (name = "notifications", description = "Webhooks, their deliveries, and members' e-mail preferences"),
        (name = "tiles", description = "Signed map tiles and the index catalogue"),
        (name = "admin", description = "System administration (SYSTEM_ADMIN)"), (name = "operations"),
    )
)]
pub struct ApiDoc;

/// Schemas of wire words and bounded values that plain Rust types do not express, for
/// `#[schema(schema_with = …)]` and `#[param(schema_with = …)]`. The `*_or_null` forms are for
/// optional body fields, which take `null` as "not given".
pub mod schemas {
    use utoipa::openapi::schema::{Object, ObjectBuilder, SchemaType, Type};
    use utoipa::openapi::{KnownFormat, SchemaFormat};
    use vivacampo_core::credentials::{MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS};
    use vivacampo_core::jobs::{JobStatus, JobType};
    use vivacampo_core::signals::lifecycle::HealthStatus;
    use vivacampo_core::signals::{Severity, SignalStatus, SignalType};
    use vivacampo_core::text::MAX_NAME_CHARS;
    use vivacampo_store::page::MAX_PAGE_SIZE;

    fn kind(base: Type, or_null: bool) -> SchemaType {
        if or_null {
            SchemaType::from_iter([base, Type::Null])
        } else {
            SchemaType::new(base)
        }
    }

    fn one_of<'a>(values: impl IntoIterator<Item = &'a str>, or_null: bool) -> Object {
        let mut values: Vec<serde_json::Value> = values.into_iter().map(Into::into).collect();
        if or_null {
            values.push(serde_json::Value::Null);
        }
        ObjectBuilder::new()
            .schema_type(kind(Type::String, or_null))
            .enum_values(Some(values))
            .build()
    }

    fn whole(min: i64, max: i64, or_null: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(kind(Type::Integer, or_null))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(min))
            .maximum(Some(max))
            .build()
    }

    fn text(min: usize, max: usize, or_null: bool) -> Object {
        ObjectBuilder::new()
            .schema_type(kind(Type::String, or_null))
            .min_length(Some(min))
            .max_length(Some(max))
            .build()
    }

    pub fn use_type() -> Object {
        one_of(["CROP", "PASTURE"], false)
    }

    pub fn use_type_or_null() -> Object {
        one_of(["CROP", "PASTURE"], true)
    }

    pub fn aoi_status() -> Object {
        one_of(["ACTIVE", "ARCHIVED"], false)
    }

    pub fn week_status() -> Object {
        one_of(["OK", "NO_DATA", "CLOUDY"], false)
    }

    pub fn radar_status() -> Object {
        one_of(["OK", "NO_DATA"], false)
    }

    pub fn sensor() -> Object {
        one_of(["optical", "radar"], false)
    }

    pub fn job_status() -> Object {
        one_of(JobStatus::ALL.iter().map(|s| s.as_str()), false)
    }

    pub fn job_type() -> Object {
        one_of(JobType::ALL.iter().map(|t| t.as_str()), false)
    }

    pub fn signal_type() -> Object {
        one_of(SignalType::ALL.iter().map(|t| t.as_str()), false)
    }

    pub fn signal_status() -> Object {
        one_of(SignalStatus::ALL.iter().map(|t| t.as_str()), false)
    }

    pub fn severity() -> Object {
        one_of(Severity::ALL.iter().map(|t| t.as_str()), false)
    }

    pub fn health_status() -> Object {
        one_of(HealthStatus::ALL.iter().map(|t| t.as_str()), false)
    }

    pub fn compare() -> Object {
        one_of(["previous_season"], false)
    }

    /// A non-empty list of the events a webhook may subscribe to.
    pub fn webhook_events() -> utoipa::openapi::schema::Array {
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(one_of(
                vivacampo_core::notify::WebhookEvent::SUBSCRIBABLE
                    .iter()
                    .map(|e| e.as_str()),
                false,
            ))
            .min_items(Some(1))
            .build()
    }

    pub fn email_mode() -> Object {
        one_of(
            vivacampo_core::notify::EmailMode::ALL
                .iter()
                .map(|m| m.as_str()),
            false,
        )
    }

    pub fn language() -> Object {
        one_of(
            vivacampo_core::signals::Language::ALL
                .iter()
                .map(|l| l.as_str()),
            false,
        )
    }

    pub fn tenant_status_or_null() -> Object {
        one_of(["ACTIVE", "SUSPENDED"], true)
    }

    pub fn tenant_kind_or_null() -> Object {
        one_of(["COMPANY", "PERSONAL"], true)
    }

    /// The index catalogue's names (lower case, as every path and parameter uses them).
    pub fn index() -> Object {
        one_of(
            vivacampo_raster::index::NAMES
                .into_iter()
                .chain(vivacampo_raster::radar::INDICES),
            false,
        )
    }

    pub fn page() -> Object {
        whole(1, i64::from(u32::MAX), false)
    }

    pub fn page_size() -> Object {
        whole(1, i64::from(MAX_PAGE_SIZE), false)
    }

    pub fn week() -> Object {
        whole(1, 53, false)
    }

    pub fn year() -> Object {
        whole(1, 9999, false)
    }

    pub fn password() -> Object {
        text(MIN_PASSWORD_CHARS, MAX_PASSWORD_CHARS, false)
    }

    /// A name as `vivacampo_core::text::name` takes it: no control character (C0, DEL, C1)
    /// anywhere, and something besides the characters Rust's `str::trim` removes (Unicode
    /// White_Space).
    const NAME_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*\
        [^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]\
        [^\\u0000-\\u001f\\u007f-\\u009f]*$";

    /// A name: 1–200 characters as sent, see [`NAME_PATTERN`].
    pub fn name() -> Object {
        let mut schema = text(1, MAX_NAME_CHARS, false);
        schema.pattern = Some(NAME_PATTERN.into());
        schema
    }

    pub fn name_or_null() -> Object {
        let mut schema = text(1, MAX_NAME_CHARS, true);
        schema.pattern = Some(NAME_PATTERN.into());
        schema
    }

    /// What `check_timezone` takes: a name of the IANA time zone database.
    pub fn timezone_or_null() -> Object {
        one_of(vivacampo_core::timezone::NAMES.iter().copied(), true)
    }

    /// What `check_plan` takes: letters, digits and `_`, up to 40.
    pub fn plan_or_null() -> Object {
        let mut schema = text(1, 40, true);
        schema.pattern = Some("^[A-Za-z0-9_]+$".into());
        schema
    }

    /// A date `YYYY-MM-DD`.
    pub fn date() -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .build()
    }

    pub fn date_or_null() -> Object {
        ObjectBuilder::new()
            .schema_type(kind(Type::String, true))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
            .build()
    }
}

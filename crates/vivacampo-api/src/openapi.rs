//! The OpenAPI document served at `/v1/openapi.json`, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, aois, auth, farms, jobs, ops, weeks};
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

#[derive(OpenApi)]
#[openapi(
    info(title = "VivaCampo API", description = "Satellite crop monitoring: farms, fields, jobs, tiles. See API.md."),
    modifiers(&BearerAuth),
    paths(
        auth::signup, auth::login, auth::logout, auth::switch_workspace, auth::me,
        farms::create, farms::list, farms::get, farms::update, farms::delete,
        aois::create, aois::list, aois::get, aois::update, aois::delete, aois::backfill,
        weeks::history, weeks::weeks, weeks::raster,
        jobs::list, jobs::get, jobs::runs, jobs::retry, jobs::cancel,
        admin::queues, admin::jobs, admin::retry_job, admin::tenants, admin::create_tenant, admin::update_tenant,
        tiles::tilejson, tiles::tile, tiles::indices,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(views::ErrorBody, views::ErrorDetail)),
    tags(
        (name = "auth", description = "Accounts, sessions and workspaces"),
        (name = "farms"), (name = "fields", description = "Fields (AOIs)"), (name = "jobs"),
        (name = "tiles", description = "Signed map tiles and the index catalogue"),
        (name = "admin", description = "System administration (SYSTEM_ADMIN)"), (name = "operations"),
    )
)]
pub struct ApiDoc;

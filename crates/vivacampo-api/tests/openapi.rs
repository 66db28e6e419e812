//! The served OpenAPI document (`GET /v1/openapi.json`) holds to the rules client generators and
//! fuzzers rely on. `scripts/api-contract-check.sh` checks it further with independent tools
//! (openapi-spec-validator, and schemathesis against the running binary).
//!
//! `VIVACAMPO_OPENAPI_OUT=FILE cargo test -p vivacampo-api --test openapi` also writes it to FILE.

use serde_json::Value;
use utoipa::OpenApi;
use vivacampo_api::openapi::ApiDoc;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn document() -> Value {
    let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
    if let Some(path) = std::env::var_os("VIVACAMPO_OPENAPI_OUT") {
        std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }
    doc
}

/// `(method, path, operation)` of every operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                out.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    out
}

fn statuses(op: &Value) -> Vec<&str> {
    op["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The schema of a component, resolved.
fn component<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

fn param<'a>(op: &'a Value, name: &str) -> &'a Value {
    op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name} in {op}"))
}

#[test]
fn operation_ids_are_unique() {
    let doc = document();
    let mut seen = std::collections::HashMap::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap().to_owned();
        if let Some(other) = seen.insert(id.clone(), format!("{method} {path}")) {
            panic!("operationId {id} is used by {other} and {method} {path}");
        }
    }
    assert!(seen.len() >= 36, "{} operations", seen.len());
}

#[test]
fn path_parameters_are_the_template_and_nothing_else() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let in_template: Vec<&str> = path
            .split('{')
            .skip(1)
            .map(|rest| rest.split('}').next().unwrap())
            .collect();
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        let in_path: Vec<String> = params
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            in_path, in_template,
            "{method} {path}: path parameters must be exactly the template's"
        );
        for p in &params {
            assert!(
                p["in"] == "path" || p["in"] == "query",
                "{method} {path}: {p}"
            );
        }
    }
}

#[test]
fn secured_routes_document_the_extractors_answers() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let codes = statuses(&op);
        let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
        if secured {
            for code in ["401", "503"] {
                assert!(codes.contains(&code), "{method} {path} lacks {code}");
            }
        }
        if op.get("requestBody").is_some() {
            for code in ["400", "413"] {
                assert!(codes.contains(&code), "{method} {path} lacks {code}");
            }
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query") {
            assert!(codes.contains(&"400"), "{method} {path} lacks 400");
        }
        if params.iter().any(|p| p["in"] == "path") {
            assert!(codes.contains(&"404"), "{method} {path} lacks 404");
        }
        // Every secured route of a workspace checks the role or the workspace's status (403).
        if secured
            && !matches!(path.as_str(), "/v1/me" | "/v1/auth/logout")
            && path != "/v1/auth/workspaces/switch"
        {
            assert!(codes.contains(&"403"), "{method} {path} lacks 403");
        }
    }
    let login = &doc["paths"]["/v1/auth/login"]["post"];
    assert!(statuses(login).contains(&"429"));
    let signup = &doc["paths"]["/v1/auth/signup"]["post"];
    assert!(statuses(signup).contains(&"429"));
}

#[test]
fn shapes_enums_and_bounds_match_the_server() {
    let doc = document();
    let legend = &component(&doc, "TileJson")["properties"]["legend"];
    assert_eq!(legend["type"], "array", "{legend}");
    assert_eq!(
        legend["items"]["$ref"], "#/components/schemas/LegendStop",
        "{legend}"
    );

    let create_aoi = component(&doc, "CreateAoi");
    assert_eq!(
        create_aoi["properties"]["use_type"]["enum"],
        serde_json::json!(["CROP", "PASTURE"])
    );
    let name = &create_aoi["properties"]["name"];
    assert_eq!(
        (&name["minLength"], &name["maxLength"]),
        (&1.into(), &200.into())
    );
    let aoi = component(&doc, "AoiView");
    assert_eq!(
        aoi["properties"]["status"]["enum"],
        serde_json::json!(["ACTIVE", "ARCHIVED"])
    );

    let password = &component(&doc, "SignupRequest")["properties"]["password"];
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&10.into(), &256.into())
    );

    let list_aois = &doc["paths"]["/v1/aois"]["get"];
    assert_eq!(
        param(list_aois, "status")["schema"]["enum"],
        serde_json::json!(["ACTIVE", "ARCHIVED"])
    );
    for path in [
        "/v1/farms",
        "/v1/aois",
        "/v1/jobs",
        "/v1/admin/jobs",
        "/v1/admin/tenants",
    ] {
        let op = &doc["paths"][path]["get"];
        assert_eq!(param(op, "page")["in"], "query", "{path}");
        assert_eq!(param(op, "page")["schema"]["minimum"], 1, "{path}");
        assert_eq!(param(op, "page_size")["schema"]["minimum"], 1, "{path}");
        assert_eq!(param(op, "page_size")["schema"]["maximum"], 200, "{path}");
        assert_eq!(param(op, "page")["required"], false, "{path}");
    }
    let jobs = &doc["paths"]["/v1/jobs"]["get"];
    assert_eq!(
        param(jobs, "status")["schema"]["enum"],
        serde_json::json!([
            "PENDING",
            "RUNNING",
            "SUCCEEDED",
            "FAILED",
            "DEAD",
            "CANCELLED"
        ])
    );
    assert!(
        param(jobs, "type")["schema"]["enum"]
            .as_array()
            .unwrap()
            .contains(&"BACKFILL".into())
    );

    let history = &doc["paths"]["/v1/aois/{id}/history"]["get"];
    let index = &param(history, "index")["schema"]["enum"];
    // The 14 optical indices and the 4 radar ones.
    assert_eq!(index.as_array().unwrap().len(), 18, "{index}");
    assert_eq!(index[0], "ndvi");
    assert!(index.as_array().unwrap().contains(&"rvi".into()));
    let tilejson = &doc["paths"]["/v1/tiles/aois/{id}/tilejson.json"]["get"];
    let week = &param(tilejson, "week")["schema"];
    assert_eq!(
        (&week["minimum"], &week["maximum"]),
        (&1.into(), &53.into())
    );
    assert_eq!(param(tilejson, "index")["in"], "query");
    let raster = &doc["paths"]["/v1/aois/{id}/weeks/{year}/{week}/raster.tif"]["get"];
    assert_eq!(param(raster, "week")["schema"]["maximum"], 53);
}

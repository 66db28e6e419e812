//! Any bytes as a STAC API search response (or a static catalog's item file): the page's items
//! into scenes, and its `next` link into the next request. Errors are fine; panics, hangs and
//! huge allocations are bugs. What parses must hold up: absolute asset URLs, finite scaling, and
//! a scene that survives a JSON round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use url::Url;
use vivacampo_imagery::stac::{self, Scene};

fuzz_target!(|data: &[u8]| {
    let Ok(page) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let base = Url::parse("https://stac.invalid/v1/search").expect("valid base");
    // A single item as a page of one, as a static catalog's item file is read.
    let single = json!({"features": [page.clone()]});
    for candidate in [&page, &single] {
        let Ok(scenes) = stac::page_scenes(candidate, &base) else {
            continue;
        };
        for scene in scenes {
            check(&scene);
        }
    }
    let original = json!({"collections": ["sentinel-2-l2a"], "limit": 100});
    if let Some(next) = stac::next_request(&page, &original, &base) {
        // A POST body is the merged or the link's object, never anything else.
        assert!(next.post.as_ref().is_none_or(Value::is_object), "{next:?}");
    }
});

fn check(scene: &Scene) {
    for (band, asset) in &scene.assets {
        assert!(Url::parse(&asset.href).is_ok(), "{band}: {}", asset.href);
        assert!(
            asset.scale.is_finite() && asset.offset.is_finite(),
            "{band}: {asset:?}"
        );
    }
    let value = serde_json::to_value(scene).expect("a scene serializes");
    let back: Scene = serde_json::from_value(value).expect("and reads back");
    assert_eq!(&back, scene);
}

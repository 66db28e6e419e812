//! Weather cells and days on both engines: fields share a cell, archive days replace forecast
//! days (never the reverse), NULLs stay NULL, and a cell's markers move with each fetch.

use time::macros::date;
use vivacampo_core::weather::{DailyWeather, GridCell, WeatherDay};
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::testing::TestDb;
use vivacampo_store::weather::{DayKind, WeatherCell, WeatherFetch};

async fn field(store: &Store, email: &str, lon: f64, lat: f64) -> (String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email,
                name: "Ana",
                password_hash: "hash",
                is_system_admin: false,
            },
            "Fazenda",
        )
        .await
        .unwrap();
    let farm = store
        .create_farm(&tenant.id, &identity.id, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let d = 0.005;
    let aoi = store
        .create_aoi(
            &tenant.id,
            &identity.id,
            NewAoi {
                farm_id: farm.id,
                name: "T".into(),
                use_type: "CROP".into(),
                shape: Shape {
                    geometry: serde_json::json!({"type": "MultiPolygon", "coordinates": [[[
                        [lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]]}),
                    area_ha: 28.0,
                    bbox: [lon, lat, lon + d, lat + d],
                },
                backfill_weeks: 1,
            },
        )
        .await
        .unwrap();
    (tenant.id, aoi.0.id)
}

fn day(date: time::Date, precip: Option<f64>, t_max: f64) -> WeatherDay {
    WeatherDay {
        date,
        weather: DailyWeather {
            t_min: Some(19.0),
            t_max: Some(t_max),
            precip_mm: precip,
            ..DailyWeather::default()
        },
    }
}

#[tokio::test]
async fn cells_are_shared_and_archive_days_win() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (ta, a) = field(store, "a@x.org", -50.905, -17.745).await;
        let (tb, b) = field(store, "b@x.org", -50.885, -17.726).await;
        let cell = GridCell::containing(-50.9, -17.74);
        let ca = store
            .link_weather_cell(&ta, &a, cell, "America/Sao_Paulo")
            .await
            .unwrap();
        let cb = store
            .link_weather_cell(&tb, &b, cell, "America/Sao_Paulo")
            .await
            .unwrap();
        assert_eq!(ca.id, "era5:-71:-204@America/Sao_Paulo");
        assert_eq!(ca.id, cb.id);
        assert_eq!(ca.history_from, None);
        // Another tenant's field is not linked, nor visible.
        assert!(store.link_weather_cell(&ta, &b, cell, "UTC").await.is_err());
        assert_eq!(store.aoi_weather_cell(&ta, &b).await.unwrap(), None);

        let today = date!(2026 - 01 - 20);
        let archive = [
            day(date!(2026 - 01 - 14), None, 30.0),
            day(date!(2026 - 01 - 15), Some(12.5), 29.0),
            WeatherDay {
                date: date!(2026 - 01 - 16),
                weather: DailyWeather::default(),
            },
        ];
        let fetch = WeatherFetch {
            kind: DayKind::Archive,
            source: "open-meteo",
            latitude: -17.75,
            longitude: -51.0,
            elevation: Some(748.0),
            days: &archive,
            history_from: Some(date!(2016 - 09 - 01)),
        };
        assert_eq!(store.store_weather(&ca.id, &fetch, today).await.unwrap(), 2);
        let forecast = [
            day(date!(2026 - 01 - 15), Some(99.0), 40.0),
            day(date!(2026 - 01 - 16), Some(3.0), 31.0),
            day(date!(2026 - 01 - 17), None, 32.0),
        ];
        let fetch = WeatherFetch {
            kind: DayKind::Forecast,
            days: &forecast,
            history_from: None,
            ..fetch
        };
        assert_eq!(store.store_weather(&ca.id, &fetch, today).await.unwrap(), 3);
        let days = store
            .weather_days(&ca.id, date!(2026 - 01 - 01), date!(2026 - 01 - 31))
            .await
            .unwrap();
        let got: Vec<_> = days
            .iter()
            .map(|d| (d.date.day(), d.weather.precip_mm, d.weather.t_max))
            .collect();
        assert_eq!(
            got,
            [
                (14, None, Some(30.0)),
                (15, Some(12.5), Some(29.0)),
                (16, Some(3.0), Some(31.0)),
                (17, None, Some(32.0)),
            ]
        );
        let c = store.aoi_weather_cell(&tb, &b).await.unwrap().unwrap();
        assert_eq!(c.history_from, Some(date!(2016 - 09 - 01)));
        assert_eq!(c.archive_until, Some(date!(2026 - 01 - 15)));
        assert_eq!(c.archive_date, Some(today));
        assert_eq!(c.forecast_date, Some(today));
        assert_eq!((c.latitude, c.elevation), (Some(-17.75), Some(748.0)));
        assert_eq!(c.source.as_deref(), Some("open-meteo"));
        assert_eq!(
            WeatherCell::id_of(cell, "UTC"),
            "era5:-71:-204@UTC".to_owned()
        );
        // Fetched today: not due; tomorrow it is.
        let due = |d| store.due_weather_cells("America/Sao_Paulo", d, 50);
        assert!(due(today).await.unwrap().is_empty());
        assert_eq!(due(date!(2026 - 01 - 21)).await.unwrap().len(), 1);
        db.drop_db().await;
    }
}

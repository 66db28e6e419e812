//! The Open-Meteo client against the loopback server speaking Open-Meteo's API over a fixture in
//! its format: several places per request, `daily_units`, nulls, 400 reasons, and the 429
//! limits (minutely retried, daily not).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use time::macros::date;
use vivacampo_imagery::Error;
use vivacampo_imagery::weather::server::{
    DAILY_LIMIT, MINUTELY_LIMIT, Mode, WeatherData, WeatherServer,
};
use vivacampo_imagery::weather::{LimitPeriod, Location, OpenMeteo, WeatherOptions};

fn fixture() -> WeatherData {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/open-meteo/rio-verde-2025-26.json");
    WeatherData::fixture(&path).unwrap()
}

async fn start(data: WeatherData) -> (Arc<WeatherServer>, OpenMeteo) {
    let server = WeatherServer::new(data);
    let base = server.spawn().await.unwrap();
    let mut options = WeatherOptions::base_url(&base, None);
    options.limit_backoff = Duration::from_millis(20);
    (server, OpenMeteo::new(options).unwrap())
}

const RIO_VERDE: Location = Location {
    latitude: -17.745,
    longitude: -50.905,
};

#[tokio::test]
async fn several_places_in_one_request_keep_nulls() {
    let (server, client) = start(fixture()).await;
    let far = Location {
        latitude: -16.68,
        longitude: -49.25,
    };
    let series = client
        .archive(
            &[RIO_VERDE, far],
            "America/Sao_Paulo",
            date!(2026 - 01 - 12),
            date!(2026 - 01 - 18),
        )
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 1);
    assert!(server.requests()[0].contains("latitude=-17.7450,-16.6800"));
    assert_eq!(series.len(), 2);
    assert_eq!((series[0].latitude, series[0].longitude), (-17.75, -51.0));
    assert_eq!((series[1].latitude, series[1].longitude), (-16.75, -49.25));
    assert_eq!(series[0].elevation, Some(748.0));
    assert_eq!(series[0].days.len(), 7);
    let null_day = series[0]
        .days
        .iter()
        .find(|d| d.date == date!(2026 - 01 - 14))
        .unwrap();
    assert_eq!(null_day.weather.precip_mm, None);
    assert!(null_day.weather.t_max.is_some());
    // Days beyond the fixture are null, as the archive's newest days are.
    let late = client
        .archive(
            &[RIO_VERDE],
            "America/Sao_Paulo",
            date!(2026 - 02 - 28),
            date!(2026 - 03 - 03),
        )
        .await
        .unwrap();
    assert_eq!(late[0].days.len(), 4);
    assert!(late[0].days[0].weather.precip_mm.is_some());
    assert_eq!(late[0].days[3].weather.precip_mm, None);
}

#[tokio::test]
async fn a_refused_request_is_an_error_with_the_reason() {
    let (server, client) = start(fixture()).await;
    let bad = Location {
        latitude: 100.0,
        longitude: 0.0,
    };
    let err = client
        .archive(&[bad], "GMT", date!(2026 - 01 - 12), date!(2026 - 01 - 18))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the weather service refused the request: Latitude must be in range of -90 to 90°. Given: 100."
    );
    assert_eq!(server.requests().len(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_minutely_limit_is_waited_out() {
    let (server, client) = start(WeatherData::Demo).await;
    server.set_mode(Mode::Limited {
        reason: MINUTELY_LIMIT.into(),
        count: 2,
    });
    let series = client
        .forecast(&[RIO_VERDE], "America/Sao_Paulo", 3)
        .await
        .unwrap();
    assert_eq!(server.requests().len(), 3);
    assert_eq!(series[0].days.len(), 3 + 16);
    let today = time::OffsetDateTime::now_utc().date();
    assert_eq!(series[0].days[3].date, today);
    assert!(series[0].days.iter().all(|d| d.weather.precip_mm.is_some()));
}

#[tokio::test]
async fn a_daily_limit_stops_at_once() {
    let (server, client) = start(WeatherData::Demo).await;
    server.set_mode(Mode::Limited {
        reason: DAILY_LIMIT.into(),
        count: 100,
    });
    let err = client
        .forecast(&[RIO_VERDE], "America/Sao_Paulo", 0)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::WeatherLimit { period: LimitPeriod::Daily, reason } if reason == DAILY_LIMIT),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1, "no retry loop");
}

#[tokio::test]
async fn the_commercial_key_is_sent() {
    let server = WeatherServer::new(WeatherData::Demo);
    let base = server.spawn().await.unwrap();
    let client = OpenMeteo::new(WeatherOptions::base_url(&base, Some("k3y".into()))).unwrap();
    client.forecast(&[RIO_VERDE], "GMT", 0).await.unwrap();
    assert!(server.requests()[0].ends_with("&apikey=k3y"));
    assert_eq!(
        WeatherOptions::open_meteo(Some("k".into())).archive_url,
        "https://customer-archive-api.open-meteo.com/v1/archive"
    );
}

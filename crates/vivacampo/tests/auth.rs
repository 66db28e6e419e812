//! Sign-in limits and private files on the real binary, as clients and operators meet them.

#[allow(dead_code)] // the helpers other e2e tests use
mod support;

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;
use support::{Server, command, request_from, temp_dir};

const ONE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const TWO: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// The per-address limit counts each client address apart: a client on 127.0.0.2 that uses up
/// its attempts is refused, while one on 127.0.0.1 still signs in. (In-process tests cannot
/// show this: every request there comes from the same unspecified address.)
#[test]
fn the_sign_in_limit_is_per_client_address() {
    let dir = temp_dir("auth-limit");
    let server = Server::start({
        let mut cmd = command(&dir, None);
        cmd.args(["api", "--auth-rate-limit", "3"]);
        cmd
    });
    let attempt = |from: IpAddr, email: &str, password: &str| {
        request_from(
            Some(from),
            server.addr,
            "POST",
            "/v1/auth/login",
            &[],
            Some(&json!({"email": email, "password": password})),
        )
    };
    let signup = request_from(
        Some(ONE),
        server.addr,
        "POST",
        "/v1/auth/signup",
        &[],
        Some(&json!({"email": "ana@x.io", "password": "long-password", "name": "Ana"})),
    );
    assert_eq!(
        signup.status,
        201,
        "{}",
        String::from_utf8_lossy(&signup.body)
    );

    // Different unknown accounts, so only the address limit is in play.
    for n in 0..3 {
        let r = attempt(TWO, &format!("guess{n}@x.io"), "wrong-password");
        assert_eq!(r.status, 401, "attempt {n} from 127.0.0.2");
    }
    let limited = attempt(TWO, "guess9@x.io", "wrong-password");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.json()["error"]["code"], "RATE_LIMITED");
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let still = attempt(TWO, "ana@x.io", "long-password");
    assert_eq!(
        still.status, 429,
        "127.0.0.2 stays limited, right password or not"
    );

    let other = attempt(ONE, "ana@x.io", "long-password");
    assert_eq!(
        other.status,
        200,
        "127.0.0.1 has its own allowance: {}",
        String::from_utf8_lossy(&other.body)
    );
    server.stop();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A new data directory is the owner's only (0700), and so is the SQLite database (0600).
#[cfg(unix)]
#[test]
fn a_new_data_directory_and_database_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("private");
    let data = dir.join("data");
    let out = command(&dir, None)
        .env("VIVACAMPO_DATA_DIR", &data)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("vivacampo.db")), 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

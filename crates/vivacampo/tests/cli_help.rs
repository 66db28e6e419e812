//! Each command's `--help` lists, and its parser accepts, only the options it uses (issue 12,
//! item 12), through the binary.

use std::process::{Command, Output};

fn vivacampo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vivacampo"))
        .args(args)
        .env_remove("VIVACAMPO_DATABASE_URL")
        .output()
        .unwrap()
}

fn help(args: &[&str]) -> String {
    let out = vivacampo(&[args, &["--help"]].concat());
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn migrate_help_lists_the_database_settings_only() {
    let text = help(&["migrate"]);
    for wanted in [
        "--status",
        "--config <FILE>",
        "--database-url <URL>",
        "--data-dir <DIR>",
        "VIVACAMPO_DB_MAX_CONNECTIONS",
        "Database:",
    ] {
        assert!(text.contains(wanted), "no {wanted} in:\n{text}");
    }
    for unwanted in [
        "--basemap",
        "--s3-secret-access-key",
        "--bind",
        "--tile-cache",
        "--imagery-source",
        "--worker-concurrency",
    ] {
        assert!(!text.contains(unwanted), "{unwanted} in:\n{text}");
    }
    // The command's own option comes before the settings.
    assert!(text.find("--status").unwrap() < text.find("--database-url").unwrap());
}

#[test]
fn raster_info_help_lists_no_settings() {
    let text = help(&["raster", "info"]);
    assert!(text.contains("<FILE>"), "{text}");
    for unwanted in [
        "--basemap",
        "--s3-secret-access-key",
        "--config",
        "--data-dir",
        "--database-url",
        "VIVACAMPO_",
    ] {
        assert!(!text.contains(unwanted), "{unwanted} in:\n{text}");
    }
}

#[test]
fn serve_catalog_has_listen_only() {
    let text = help(&["imagery", "serve-catalog"]);
    assert!(text.contains("--listen"), "{text}");
    assert!(!text.contains("--bind"), "{text}");
}

#[test]
fn roles_list_their_own_settings() {
    let worker = help(&["worker"]);
    assert!(worker.contains("--imagery-source") && worker.contains("--job-lease"));
    assert!(!worker.contains("--basemap") && !worker.contains("--tile-key"));
    let tiler = help(&["tiler"]);
    assert!(tiler.contains("--tile-key") && !tiler.contains("--worker-concurrency"));
    let serve = help(&["serve"]);
    assert!(serve.contains("--basemap") && serve.contains("--weather-apikey"));
    assert!(serve.contains("--s3-secret-access-key") && serve.contains("--incident-dir"));
}

#[test]
fn a_flag_the_command_does_not_use_is_refused() {
    for args in [
        &["migrate", "--basemap", "none"][..],
        &["raster", "info", "--tile-cache", "1GiB", "f.tif"][..],
        &["admin", "list-tenants", "--bind", "127.0.0.1:9"][..],
        &["imagery", "serve-catalog", "dir", "--bind", "127.0.0.1:9"][..],
    ] {
        let out = vivacampo(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("unexpected argument"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_bad_setting_value_names_the_flag() {
    let out = vivacampo(&["migrate", "--status", "--db-acquire-timeout", "soon"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("vivacampo: invalid --db-acquire-timeout \"soon\": "),
        "{stderr}"
    );
}

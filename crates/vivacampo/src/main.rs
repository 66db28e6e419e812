//! `vivacampo`: one binary, four roles (see ARCHITECTURE.md) plus administration and a demo.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Flags, scope};

mod admin;
mod config;
mod demo;
mod imagery_cmd;
mod ops;
mod raster_cmd;
mod roles;

/// Satellite crop monitoring for farmers and agronomists.
#[derive(Parser)]
#[command(name = "vivacampo", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Settings come from defaults < vivacampo.toml (or --config) < VIVACAMPO_* environment variables < flags.\n\
Example: VIVACAMPO_DATABASE_URL=postgres://postgres@127.0.0.1/vivacampo vivacampo serve"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// API, tiles, worker and web UI in one process (one machine).
    Serve {
        #[command(flatten)]
        settings: Flags<scope::All>,
    },
    /// HTTP API and web UI only (scale out behind a load balancer).
    Api {
        #[command(flatten)]
        settings: Flags<scope::Api>,
    },
    /// Map tile endpoints only (scale out behind a CDN; replicas share `tile_key`).
    Tiler {
        #[command(flatten)]
        settings: Flags<scope::Tiler>,
    },
    /// Job runner only (scale out: jobs are leased, never run twice at once).
    Worker {
        #[command(flatten)]
        settings: Flags<scope::Worker>,
    },
    /// Apply database migrations, or show their status.
    Migrate {
        /// Only show which migrations are applied and which are pending.
        #[arg(long)]
        status: bool,
        #[command(flatten)]
        settings: Flags<scope::Database>,
    },
    /// Users, tenants, memberships, dead jobs.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
        #[command(flatten)]
        settings: Flags<scope::Database>,
    },
    /// On-call operations: feature flags, status, incidents (see docs/runbooks/).
    Ops {
        #[command(subcommand)]
        command: ops::OpsCommand,
        #[command(flatten)]
        settings: Flags<scope::Ops>,
    },
    /// Seed a demo account, farm and fields, then serve.
    Demo {
        #[command(flatten)]
        args: demo::DemoArgs,
        #[command(flatten)]
        settings: Flags<scope::All>,
    },
    /// Inspect GeoTIFFs, compute statistics, render tiles (JSON on stdout).
    #[command(subcommand)]
    Raster(raster_cmd::RasterCommand),
    /// The offline demo catalog and catalog searches.
    #[command(subcommand)]
    Imagery(imagery_cmd::ImageryCommand),
}

/// What a command that reads the settings does with them.
enum Job {
    Serve(roles::Roles),
    Migrate { status: bool },
    Admin(admin::AdminCommand),
    Ops(ops::OpsCommand),
    Demo(demo::DemoArgs),
}

/// Prints the error of a command that needs no settings.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vivacampo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vivacampo_imagery::install_crypto_provider();
    let env = |name: &str| std::env::var(name).ok();
    // Raster and imagery tools are plain CPU work on local files: no settings, runtime or logging.
    let (settings, job) = match cli.command {
        Command::Raster(cmd) => return finish(raster_cmd::run(cmd)),
        Command::Imagery(cmd) => return finish(imagery_cmd::run(cmd)),
        Command::Serve { settings } => (settings.resolve(env), Job::Serve(roles::Roles::ALL)),
        Command::Api { settings } => (settings.resolve(env), Job::Serve(roles::Roles::API)),
        Command::Tiler { settings } => (settings.resolve(env), Job::Serve(roles::Roles::TILER)),
        Command::Worker { settings } => (settings.resolve(env), Job::Serve(roles::Roles::WORKER)),
        Command::Migrate { status, settings } => (settings.resolve(env), Job::Migrate { status }),
        Command::Admin { command, settings } => (settings.resolve(env), Job::Admin(command)),
        Command::Ops { command, settings } => (settings.resolve(env), Job::Ops(command)),
        Command::Demo { args, settings } => (settings.resolve(env), Job::Demo(args)),
    };
    let settings = match settings {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("vivacampo: {message}");
            return ExitCode::from(2);
        }
    };
    roles::init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vivacampo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match job {
            Job::Serve(roles) => roles::serve(&settings, roles)
                .await
                .map(|()| ExitCode::SUCCESS),
            Job::Migrate { status } => roles::migrate(&settings, status)
                .await
                .map(|()| ExitCode::SUCCESS),
            Job::Admin(cmd) => admin::run(&settings, cmd).await.map(|()| ExitCode::SUCCESS),
            Job::Ops(cmd) => ops::run(&settings, cmd).await.map(ExitCode::from),
            Job::Demo(args) => demo::run(&settings, args).await.map(|()| ExitCode::SUCCESS),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vivacampo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use clap::CommandFactory;

    use super::*;
    use crate::config::SETTINGS;

    /// The long flags of `vivacampo ARGS…` (a subcommand path), without help and version.
    fn longs(path: &[&str]) -> BTreeSet<String> {
        let mut cmd = Cli::command();
        cmd.build();
        let mut cmd = &cmd;
        for name in path {
            cmd = cmd.find_subcommand(name).unwrap();
        }
        cmd.get_arguments()
            .filter_map(|a| a.get_long())
            .filter(|l| !["help", "version"].contains(l))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_option_has_a_description() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                if arg.get_help().is_none() && !["help", "version"].contains(&arg.get_id().as_str())
                {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "vivacampo", &mut missing);
        assert!(missing.is_empty(), "options without help: {missing:?}");
    }

    #[test]
    fn every_setting_has_one_flag_one_variable_and_one_file_key() {
        let keys: BTreeSet<&str> = SETTINGS.iter().map(|s| s.key).collect();
        assert_eq!(keys.len(), SETTINGS.len(), "a key is defined twice");
        let from_flags: BTreeSet<String> = longs(&["serve"])
            .into_iter()
            .filter(|l| l != "config")
            .map(|l| l.replace('-', "_"))
            .collect();
        let from_env: BTreeSet<String> = SETTINGS
            .iter()
            .map(|s| {
                s.env_name()
                    .strip_prefix("VIVACAMPO_")
                    .unwrap()
                    .to_ascii_lowercase()
            })
            .collect();
        let file_keys: BTreeSet<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(from_flags, file_keys, "serve takes every setting as a flag");
        assert_eq!(from_env, file_keys);
        assert!(longs(&["demo"]).is_superset(&longs(&["serve"])));
        // Every setting is accepted by the file/env parser under its key, and named in --help
        // with its default.
        for s in SETTINGS {
            let mut settings = crate::config::Settings::default();
            let err = settings
                .apply(s.key, "\u{1}", "x")
                .err()
                .unwrap_or_default();
            assert!(!err.contains("unknown setting"), "{}: {err}", s.key);
            assert!(
                s.help.contains("default"),
                "{} help names no default",
                s.key
            );
        }
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../../README.md");
        for s in SETTINGS {
            assert!(
                readme.contains(&format!("| `{}` |", s.key)),
                "README.md has no row for {}",
                s.key
            );
        }
    }

    #[test]
    fn each_command_takes_only_the_settings_it_uses() {
        let migrate = longs(&["migrate"]);
        for flag in ["status", "config", "database-url", "data-dir", "log"] {
            assert!(
                migrate.contains(flag),
                "migrate lacks --{flag}: {migrate:?}"
            );
        }
        for flag in ["basemap", "s3-secret-access-key", "bind", "tile-cache"] {
            assert!(!migrate.contains(flag), "migrate offers --{flag}");
        }
        assert_eq!(
            longs(&["admin"]),
            migrate.iter().filter(|f| *f != "status").cloned().collect()
        );
        assert!(
            longs(&["raster", "info"]).is_empty(),
            "{:?}",
            longs(&["raster", "info"])
        );
        let catalog = longs(&["imagery", "serve-catalog"]);
        assert_eq!(catalog, BTreeSet::from(["listen".to_owned()]));
        let tiler = longs(&["tiler"]);
        assert!(tiler.contains("tile-key") && tiler.contains("public-url"));
        assert!(!tiler.contains("worker-concurrency") && !tiler.contains("basemap"));
        let worker = longs(&["worker"]);
        assert!(worker.contains("imagery-source") && worker.contains("weather-source"));
        assert!(worker.contains("bind") && !worker.contains("tile-key"));
        let api = longs(&["api"]);
        assert!(api.contains("basemap") && !api.contains("imagery-source"));
        let ops = longs(&["ops"]);
        assert!(ops.contains("incident-dir") && ops.contains("storage-quota"));
        assert!(!ops.contains("bind"));
    }

    #[test]
    fn a_flag_the_command_does_not_use_is_refused() {
        let err = Cli::try_parse_from(["vivacampo", "migrate", "--basemap", "none"])
            .err()
            .unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = Cli::try_parse_from([
            "vivacampo",
            "raster",
            "info",
            "--tile-cache",
            "1GiB",
            "f.tif",
        ])
        .err()
        .unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
        let err = Cli::try_parse_from([
            "vivacampo",
            "imagery",
            "serve-catalog",
            "d",
            "--bind",
            "127.0.0.1:1",
        ])
        .err()
        .unwrap();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn settings_flags_go_before_or_after_a_nested_subcommand() {
        for args in [
            &[
                "vivacampo",
                "admin",
                "--database-url",
                "sqlite://a.db",
                "list-tenants",
            ][..],
            &[
                "vivacampo",
                "admin",
                "list-tenants",
                "--database-url",
                "sqlite://a.db",
            ][..],
        ] {
            let Command::Admin { settings, .. } = Cli::try_parse_from(args).unwrap().command else {
                panic!("not admin");
            };
            let resolved = settings.resolve(|_| None).unwrap();
            assert_eq!(
                resolved.database_url.as_deref(),
                Some("sqlite://a.db"),
                "{args:?}"
            );
        }
        let Command::Ops { settings, .. } = Cli::try_parse_from([
            "vivacampo",
            "ops",
            "incident",
            "new",
            "t",
            "--severity",
            "P1",
            "--incident-dir",
            "/tmp/inc",
        ])
        .unwrap()
        .command
        else {
            panic!("not ops");
        };
        assert_eq!(
            settings.values,
            vec![("incident_dir", "/tmp/inc".to_owned())]
        );
        // A bad value still names the flag.
        let Command::Worker { settings } =
            Cli::try_parse_from(["vivacampo", "worker", "--job-lease", "soon"])
                .unwrap()
                .command
        else {
            panic!("not worker");
        };
        let err = settings.resolve(|_| None).unwrap_err();
        assert!(err.starts_with("invalid --job-lease \"soon\""), "{err}");
    }
}

//! Records the git commit the binary is built from (`git rev-parse --short HEAD`) as
//! `VIVACAMPO_GIT_COMMIT`, for the deploy records and `vivacampo_build_info`. A build outside a
//! git checkout (a source tarball) says "unknown", or what `VIVACAMPO_GIT_COMMIT` says.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VIVACAMPO_GIT_COMMIT");
    let commit = std::env::var("VIVACAMPO_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    // Rebuild when HEAD moves: the HEAD file, and the branch it points to.
    for path in [
        Some("HEAD".to_owned()),
        git(&["symbolic-ref", "-q", "HEAD"]),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(file) = git(&["rev-parse", "--path-format=absolute", "--git-path", &path])
            && std::path::Path::new(&file).exists()
        {
            println!("cargo:rerun-if-changed={file}");
        }
    }
    println!("cargo:rustc-env=VIVACAMPO_GIT_COMMIT={commit}");
}

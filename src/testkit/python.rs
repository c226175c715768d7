//! Python interoperability peers, provisioned by the project and pinned.
//!
//! Interoperability tests drive librdkafka (through `confluent-kafka`) and
//! `kafka-python` from Python scripts, and the mock cluster helper
//! runs librdkafka's mock cluster from the same `confluent-kafka` wheel. Rather
//! than relying on whatever a machine has installed globally, the testkit
//! creates a virtual environment at
//! `<cargo target dir>/kafka-sync-peers/venv` with `python3 -m venv` and
//! `pip install`s exactly [`CONFLUENT_KAFKA_VERSION`] and
//! [`KAFKA_PYTHON_VERSION`] into it on first use, then checks it by importing
//! both packages and comparing their versions. `scripts/install-peers.sh` does
//! the same from a shell.
//!
//! The environment is built in a scratch directory next to its final place and
//! renamed into place only once it passed the check: a rename of a directory
//! onto an existing one fails, so when two test processes provision at once,
//! one wins and the other uses the winner's. Threads of one process provision
//! once.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::binary::{check_output, target_dir, Scratch};
use super::unique_name;
use crate::{Error, Result};

/// The `confluent-kafka` version (PyPI) the peers' environment holds; its
/// wheel bundles librdkafka 2.16.0.
pub const CONFLUENT_KAFKA_VERSION: &str = "2.16.1";
/// The `kafka-python` version (PyPI) the peers' environment holds.
pub const KAFKA_PYTHON_VERSION: &str = "3.0.12";

/// Written into a checked environment; its content names the pinned versions,
/// so a change of pins makes an old environment be rebuilt.
const MARKER: &str = "kafka-sync-peers.txt";

/// Prints each package's version; the check compares them with the pins.
const CHECK_SCRIPT: &str = "import confluent_kafka, kafka\n\
                            print(confluent_kafka.__version__, kafka.__version__)";

/// The Python interpreter of the peers' virtual environment, with
/// `confluent-kafka` [`CONFLUENT_KAFKA_VERSION`] and `kafka-python`
/// [`KAFKA_PYTHON_VERSION`] importable, at
/// `<cargo target dir>/kafka-sync-peers/venv`.
///
/// Created on first use (printing one line to stderr) with `python3 -m venv`
/// and `pip install` of the pinned versions, then checked by importing both
/// packages and comparing their versions. It is built in a scratch directory
/// and renamed into place once checked, so test processes that provision at
/// the same time are safe: one wins, the others use its environment. Each
/// process checks an existing environment once; one whose pins changed or
/// that no longer imports is rebuilt. `scripts/install-peers.sh` does the
/// same from a shell.
///
/// The environment is made with `python3` from `PATH`, or the interpreter
/// named by the environment variable `KAFKA_SYNC_PYTHON`. Needs network
/// access to PyPI (or pip's usual `PIP_INDEX_URL` / `PIP_FIND_LINKS`
/// settings) the first time.
///
/// ```no_run
/// let python = kafka_sync::testkit::python_peers()?;
/// let status = std::process::Command::new(python)
///     .args(["-c", "import confluent_kafka"])
///     .status()
///     .expect("the venv's python runs");
/// assert!(status.success());
/// # Ok::<(), kafka_sync::Error>(())
/// ```
///
/// # Errors
/// [`Error::Config`] saying what is missing and how to get it: no `python3`,
/// no `venv` module (Debian: `apt-get install python3-venv`), pip unable to
/// reach PyPI, or packages whose versions are not the pinned ones.
pub fn python_peers() -> Result<PathBuf> {
    let venv = venv_dir();
    // Tests of one binary ask in parallel: check (or build) once per process.
    static CHECKED: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(python) = checked.as_ref() {
        return Ok(python.clone());
    }
    let python = venv_python(&venv);
    if marker_is_current(&venv) && check(&python).is_ok() {
        *checked = Some(python.clone());
        return Ok(python);
    }
    provision(&venv)?;
    *checked = Some(python.clone());
    Ok(python)
}

/// `<target dir>/kafka-sync-peers`.
pub(super) fn peers_dir() -> PathBuf {
    target_dir().join("kafka-sync-peers")
}

fn venv_dir() -> PathBuf {
    peers_dir().join("venv")
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn requirements() -> [String; 2] {
    [
        format!("confluent-kafka=={CONFLUENT_KAFKA_VERSION}"),
        format!("kafka-python=={KAFKA_PYTHON_VERSION}"),
    ]
}

fn marker_text() -> String {
    requirements().join("\n") + "\n"
}

fn marker_is_current(venv: &Path) -> bool {
    fs::read_to_string(venv.join(MARKER)).is_ok_and(|text| text == marker_text())
}

/// Imports both packages with `python` and compares their versions with the
/// pins.
fn check(python: &Path) -> Result<(), String> {
    let output = Command::new(python)
        .arg("-c")
        .arg(CHECK_SCRIPT)
        .stdin(Stdio::null())
        .output();
    let what = format!("{} -c 'import confluent_kafka, kafka'", python.display());
    let stdout = check_output(&what, output)?;
    let found: Vec<&str> = stdout.split_whitespace().collect();
    if found == [CONFLUENT_KAFKA_VERSION, KAFKA_PYTHON_VERSION] {
        Ok(())
    } else {
        Err(format!(
            "{what} found versions {found:?}, expected confluent-kafka {CONFLUENT_KAFKA_VERSION} \
             and kafka-python {KAFKA_PYTHON_VERSION}"
        ))
    }
}

/// Builds a checked environment in a scratch directory and renames it to
/// `venv`, replacing an outdated or broken one.
fn provision(venv: &Path) -> Result<()> {
    let [confluent, kafka_python] = requirements();
    let fail = |what: String| {
        Error::Config(format!(
            "provisioning the Python peers ({confluent}, {kafka_python}) into {}: {what}; run \
             scripts/install-peers.sh to see pip's full output",
            venv.display()
        ))
    };
    let parent = venv.parent().unwrap_or(Path::new("."));
    eprintln!(
        "kafka-sync testkit: creating a Python venv with {confluent} and {kafka_python} in {}",
        venv.display()
    );
    fs::create_dir_all(parent).map_err(|e| fail(format!("creating the directory: {e}")))?;
    let scratch = Scratch(parent.join(format!(".{}", unique_name("venv"))));

    let base = env::var_os("KAFKA_SYNC_PYTHON")
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "python3".into());
    let created = Command::new(&base)
        .args(["-m", "venv"])
        .arg(&scratch.0)
        .stdin(Stdio::null())
        .output();
    let base = Path::new(&base).display().to_string();
    match &created {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(fail(format!(
                "{base} is not installed; install Python 3 (Debian: apt-get install python3 \
                 python3-venv) or point KAFKA_SYNC_PYTHON at an interpreter"
            )));
        }
        _ => {}
    }
    check_output(&format!("{base} -m venv"), created).map_err(|e| {
        fail(format!(
            "{e}; the venv module or ensurepip is missing (Debian/Ubuntu: apt-get install \
             python3-venv)"
        ))
    })?;

    let python = venv_python(&scratch.0);
    let installed = Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "--no-input"])
        .arg("--disable-pip-version-check")
        .args([&confluent, &kafka_python])
        .stdin(Stdio::null())
        .output();
    check_output("pip install", installed).map_err(|e| {
        fail(format!(
            "{e}; check that PyPI is reachable (pip honours HTTPS_PROXY, PIP_INDEX_URL and \
             PIP_FIND_LINKS)"
        ))
    })?;
    check(&python).map_err(fail)?;
    fs::write(scratch.0.join(MARKER), marker_text())
        .map_err(|e| fail(format!("writing the marker file: {e}")))?;

    // An outdated or broken environment is moved aside first; a rename onto
    // a non-empty directory fails, which is what makes the final rename safe
    // against a concurrent provisioner.
    if venv.exists() {
        let stale = Scratch(parent.join(format!(".{}", unique_name("stale-venv"))));
        let _ = fs::rename(venv, &stale.0);
    }
    match fs::rename(&scratch.0, venv) {
        Ok(()) => Ok(()),
        // Another process put its own checked environment in place meanwhile.
        Err(_) if marker_is_current(venv) && check(&venv_python(venv)).is_ok() => Ok(()),
        Err(e) => Err(fail(format!("moving the venv into place: {e}"))),
    }
}

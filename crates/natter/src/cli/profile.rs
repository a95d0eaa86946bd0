//! Saved sessions: one profile per server URL in `profiles.json` in the user's configuration
//! directory. The file holds bearer tokens, so it is created readable by its owner only (0600)
//! and replaced whole through a temporary file of the same mode, never left half written.

use std::{collections::BTreeMap, io::Write, path::PathBuf};

use serde::{Deserialize, Serialize};

use super::failure::{Failure, Kind};

/// A session saved by `natter login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub token: String,
    pub user_id: String,
    pub username: String,
}

/// Every saved profile, keyed by server URL (without a trailing `/`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    pub servers: BTreeMap<String, Profile>,
}

/// `$NATTER_CONFIG_DIR`, else `$XDG_CONFIG_HOME/natter`, else `~/.config/natter`.
pub fn config_dir() -> Result<PathBuf, Failure> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("NATTER_CONFIG_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(xdg) = var("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("natter"));
    }
    match var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("natter")),
        None => Err(Failure::usage(
            "no configuration directory: set NATTER_CONFIG_DIR, XDG_CONFIG_HOME or HOME",
        )),
    }
}

fn file() -> Result<PathBuf, Failure> {
    Ok(config_dir()?.join("profiles.json"))
}

fn io_failure(what: &str, path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::new(
        Kind::Usage,
        format!("cannot {what} {}: {e}", path.display()),
    )
}

impl Profiles {
    /// The saved profiles; none when the file does not exist yet.
    pub fn load() -> Result<Profiles, Failure> {
        let path = file()?;
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Failure::usage(format!("{} is not a profiles file: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
            Err(e) => Err(io_failure("read", &path, e)),
        }
    }

    pub fn save(&self) -> Result<(), Failure> {
        let path = file()?;
        let dir = path.parent().expect("the profiles file is in a directory");
        create_private_dir(dir).map_err(|e| io_failure("create", dir, e))?;
        let tmp = dir.join(".profiles.json.tmp");
        let bytes = serde_json::to_vec_pretty(self).expect("profiles serialize");
        let _ = std::fs::remove_file(&tmp);
        let write = || -> std::io::Result<()> {
            let mut f = private_file(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| io_failure("write", &path, e))
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A new file that only its owner may read: the mode is set at creation, so the token is never
/// readable by others, not even for a moment.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

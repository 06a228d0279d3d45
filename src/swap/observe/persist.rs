//! What persists a swap file: the fstab lines that name it (byte for byte, so hostfix can
//! tell its own lines from the admin's) and the systemd `.swap` units of its name.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{FileFacts, FstabFacts, FstabMatch, UnitFacts};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::swap::fstab::{Fstab, FstabEntry};
use crate::swap::spec::normalize;
use crate::swap::unit;

/// Where else a `.swap` unit of the same name (or a drop-in folder for it) would change
/// what hostfix's unit does: systemd reads them all, hostfix writes only [`unit::UNIT_DIR`].
pub const OTHER_UNIT_DIRS: [&str; 4] = [
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Whether an fstab entry names the swap file at `path`: the same normal path, or a path
/// (under the host's root) to the same inode.
pub fn fstab_names(host: &Host, e: &FstabEntry, path: &Path, identity: Option<(u64, u64)>) -> bool {
    if !e.spec.starts_with('/') {
        return false;
    }
    let spec = normalize(Path::new(&e.spec));
    if spec == normalize(path) {
        return true;
    }
    match (identity, std::fs::metadata(host.path(&spec))) {
        (Some((dev, ino)), Ok(m)) => m.dev() == dev && m.ino() == ino,
        _ => false,
    }
}

/// The real path of `/etc/fstab`, following a symlink inside the host's root.
pub fn fstab_real_path(host: &Host) -> PathBuf {
    let p = host.path("/etc/fstab");
    match std::fs::read_link(&p) {
        Ok(to) if to.is_absolute() => host.path(to),
        Ok(to) => host.path("/etc").join(to),
        Err(_) => p,
    }
}

/// The text of fstab (through one symlink at `/etc/fstab`, as [`fstab_real_path`]
/// resolves it); `None` when there is none. Opened without blocking or following a
/// further link: a FIFO or device there never hangs a run.
///
/// # Errors
/// [`crate::error::Refusal::NotRegularFile`] when it is not a regular file; [`Error::Io`]
/// (also when larger than [`crate::state::MAX_STATE_FILE`]); [`Error::Parse`] when it is
/// not UTF-8 (hostfix will not edit it).
pub fn read_fstab(host: &Host) -> Result<Option<String>> {
    let real = fstab_real_path(host);
    let bytes = crate::state::read_regular(&real).map_err(|e| match e {
        Error::Refused(crate::error::Refusal::NotRegularFile { found, .. }) => {
            crate::error::Refusal::NotRegularFile {
                path: host.host_path(&real),
                found,
            }
            .into()
        }
        other => other,
    })?;
    bytes
        .map(String::from_utf8)
        .transpose()
        .map_err(|_| Error::parse("/etc/fstab", "not valid UTF-8; hostfix will not edit it"))
}

pub(super) fn read_fstab_facts(
    host: &Host,
    path: &Path,
    identity: Option<(u64, u64)>,
    file: Option<&FileFacts>,
) -> Result<FstabFacts> {
    let Some(text) = read_fstab(host)? else {
        return Ok(FstabFacts::default());
    };
    let fstab = Fstab::parse(&text);
    let lines = fstab
        .matching(&|e| fstab_names(host, e, path, identity))
        .into_iter()
        .filter_map(|l| {
            l.entry.clone().map(|entry| FstabMatch {
                number: l.number,
                raw: l.body().to_string(),
                entry,
            })
        })
        .collect();
    let header = file.and_then(|f| f.content.header());
    let by_uuid_or_label = fstab
        .lines
        .iter()
        .filter(|l| {
            l.entry.as_ref().is_some_and(|e| {
                e.is_swap()
                    && header.is_some_and(|h| {
                        e.spec.strip_prefix("UUID=") == Some(h.uuid.as_str())
                            || (!h.label.is_empty()
                                && e.spec.strip_prefix("LABEL=") == Some(h.label.as_str()))
                    })
            })
        })
        .map(|l| l.number)
        .collect();
    Ok(FstabFacts {
        exists: true,
        lines,
        by_uuid_or_label,
    })
}

pub(super) fn read_unit_facts(host: &Host, path: &Path) -> Result<UnitFacts> {
    let name = unit::unit_name(path)?;
    let unit_path = Path::new(unit::UNIT_DIR).join(&name);
    let content = match crate::state::read_regular(&host.path(&unit_path))? {
        Some(b) => Some(String::from_utf8(b).map_err(|_| {
            Error::parse(
                unit_path.display().to_string(),
                "not valid UTF-8: not a unit hostfix wrote",
            )
        })?),
        None => None,
    };
    let link_path = host.path(Path::new(unit::WANTS_DIR).join(&name));
    let link = match std::fs::symlink_metadata(&link_path) {
        Ok(m) if m.file_type().is_symlink() => Some(
            std::fs::read_link(&link_path)
                .map(|to| to.display().to_string())
                .unwrap_or_default(),
        ),
        Ok(m) => Some(format!("({})", crate::state::file_kind(m.file_type()))),
        Err(_) => None,
    };
    let enabled = link.as_deref() == Some(format!("../{name}").as_str());
    let mut elsewhere = Vec::new();
    let dropin = format!("{name}.d");
    for dir in [unit::UNIT_DIR, OTHER_UNIT_DIRS[0]] {
        let p = Path::new(dir).join(&dropin);
        if std::fs::symlink_metadata(host.path(&p)).is_ok() {
            elsewhere.push(p.display().to_string());
        }
    }
    for dir in OTHER_UNIT_DIRS {
        let p = Path::new(dir).join(&name);
        if std::fs::symlink_metadata(host.path(&p)).is_ok() {
            elsewhere.push(p.display().to_string());
        }
    }
    Ok(UnitFacts {
        name,
        content,
        enabled,
        link,
        elsewhere,
    })
}

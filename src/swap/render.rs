//! The human rendering of `swap`'s results: what the CLI prints without `--json`.

use std::fmt;

use super::{RemoveStatus, SwapStatus};
use crate::size::ByteSize;

/// The human rendering of a [`SwapStatus`] (`hostfix swap ensure`): the file and its
/// size, whether it is active and where it is persisted, its UUID and filesystem.
impl fmt::Display for SwapStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self;
        writeln!(
            f,
            "{}: {}{}",
            s.path.display(),
            s.file_bytes
                .map_or("no file".to_string(), |b| ByteSize(b).to_string()),
            if s.size_bytes > 0 && s.file_bytes != Some(s.size_bytes) {
                format!(" (wanted {})", ByteSize(s.size_bytes))
            } else {
                String::new()
            }
        )?;
        if let Some(a) = &s.auto {
            writeln!(f, "size auto: {}", a.reason)?;
        }
        writeln!(
            f,
            "active: {}",
            match (s.active, s.used_bytes, s.priority) {
                (true, Some(u), Some(p)) => format!("yes, {} used, priority {p}", ByteSize(u)),
                (true, ..) => "yes".to_string(),
                _ => "no".to_string(),
            }
        )?;
        writeln!(
            f,
            "persisted: {}",
            if s.persisted_in.is_empty() {
                "no".to_string()
            } else {
                s.persisted_in.join(", ")
            }
        )?;
        if let Some(u) = &s.uuid {
            writeln!(
                f,
                "UUID={u}{}",
                s.label
                    .as_ref()
                    .map(|l| format!(" LABEL={l}"))
                    .unwrap_or_default()
            )?;
        }
        if let (Some(fs), Some(m)) = (&s.filesystem, &s.mode) {
            writeln!(f, "on {fs}, mode {m}")?;
        }
        Ok(())
    }
}

/// The human rendering of a [`RemoveStatus`] (`hostfix swap remove`).
impl fmt::Display for RemoveStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {}",
            self.path.display(),
            match (self.existed, self.gone) {
                (false, _) => "there was no file",
                (true, true) => "deleted",
                (true, false) => "still there",
            }
        )?;
        if !self.persisted_in.is_empty() {
            writeln!(f, "still persisted in {}", self.persisted_in.join(", "))?;
        }
        Ok(())
    }
}

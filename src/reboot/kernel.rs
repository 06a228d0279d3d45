//! Is the running kernel older than the newest installed one of its flavour?
//!
//! The comparison is conservative, after what went wrong for needrestart's users: only
//! kernel images (`/boot/vmlinuz-*`, `/boot/vmlinux-*`) and module trees with a
//! `modules.dep` or a `vmlinuz` count as installed (an initrd is not a kernel, a leftover
//! module directory is not an installed kernel), only kernels of the running one's flavour
//! are compared (`cloud-amd64` is not `rt-amd64`, `generic` is not `liquorix`), versions
//! compare number by number (`6.1.0-18` is newer than `6.1.0-9`), and when the running
//! kernel is not among the installed ones (a custom build, a container, Arch after an
//! upgrade removed its files) the answer is "unknown", never "reboot".

use std::cmp::Ordering;
use std::path::Path;

use serde::Serialize;

use crate::host::Host;

/// An installed kernel: its release and the file that shows it is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledKernel {
    /// The release, as `uname -r` would print it once booted.
    pub release: String,
    /// The host path that shows it (`/boot/vmlinuz-6.1.0-18-cloud-amd64`).
    pub evidence: String,
}

/// What the kernel comparison found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum KernelStatus {
    /// The running kernel is the newest installed one of its flavour.
    Current {
        /// The running release.
        running: String,
    },
    /// A newer kernel of the running one's flavour is installed.
    Newer {
        /// The running release.
        running: String,
        /// The newest installed release of the same flavour.
        newest: String,
    },
    /// It cannot be told (the detail says why).
    Unknown {
        /// The running release, when it could be read.
        running: Option<String>,
        /// Why it cannot be told.
        why: String,
    },
}

/// The release named by a file in `/boot`, when the file is a kernel image.
///
/// `vmlinuz-REL` and `vmlinux-REL` count; initrds, `System.map`, configs, `.old`/`.bak`
/// copies, dpkg leftovers, Fedora's rescue kernel and hidden files (`.vmlinuz-*.hmac`) do
/// not.
pub fn boot_image_release(file_name: &str) -> Option<&str> {
    let rel = file_name
        .strip_prefix("vmlinuz-")
        .or_else(|| file_name.strip_prefix("vmlinux-"))?;
    let bad_suffix = [".old", ".bak", ".sig", ".hmac", ".efi.signed", "~"];
    if rel.is_empty()
        || bad_suffix.iter().any(|s| rel.ends_with(s))
        || rel.contains(".dpkg-")
        || rel.contains("-rescue-")
        || !rel.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    Some(rel)
}

/// The kernels installed under the host's root: `/boot` images, and module trees under
/// `/lib/modules` and `/usr/lib/modules` that hold a `modules.dep` or a `vmlinuz`.
///
/// Unreadable directories count as empty: the caller then finds the running kernel
/// missing and answers "unknown".
pub fn installed_kernels(host: &Host) -> Vec<InstalledKernel> {
    let mut out: Vec<InstalledKernel> = Vec::new();
    let mut push = |release: String, evidence: String| {
        if !out.iter().any(|k| k.release == release) {
            out.push(InstalledKernel { release, evidence });
        }
    };
    for name in sorted_names(&host.path("/boot")) {
        if let Some(rel) = boot_image_release(&name) {
            push(rel.to_string(), format!("/boot/{name}"));
        }
    }
    for dir in ["/lib/modules", "/usr/lib/modules"] {
        for name in sorted_names(&host.path(dir)) {
            if name.starts_with('.') || !name.starts_with(|c: char| c.is_ascii_digit()) {
                continue;
            }
            for marker in ["modules.dep", "vmlinuz"] {
                let p = format!("{dir}/{name}/{marker}");
                if host.path(&p).is_file() {
                    push(name.clone(), p);
                    break;
                }
            }
        }
    }
    out
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            log::debug!("reboot: listing {}: {e}", dir.display());
            return Vec::new();
        }
    };
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}

/// The flavour of a kernel release: its alphabetic tokens with their digits dropped.
///
/// `6.1.0-18-cloud-amd64` → `cloud amd`, `6.8.0-88-generic` → `generic`,
/// `5.14.0-362.8.1.el9_3.x86_64` → `el x`, `6.7.4-arch1-1` → `arch`. Two releases are
/// compared only when their flavours are equal. The mapping is lossy by design: it only has
/// to tell flavours apart, and when it cannot, the kernels are not compared.
pub fn kernel_flavour(release: &str) -> String {
    release
        .split(['.', '-', '_', '+', '~'])
        .filter(|t| t.starts_with(|c: char| c.is_ascii_alphabetic()))
        .map(|t| t.trim_end_matches(|c: char| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Compares two version strings number by number (`6.1.0-18` > `6.1.0-9`), text by text
/// elsewhere, as `sort -V` does.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, ra) = split_run(a, true);
                let (nb, rb) = split_run(b, true);
                let na = trim_zeros(na);
                let nb = trim_zeros(nb);
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                a = ra;
                b = rb;
            }
            (Some(_), Some(_)) => {
                let (ta, ra) = split_run(a, false);
                let (tb, rb) = split_run(b, false);
                // A text run that is a prefix of the other ends first: compare what
                // follows, so `1.2` sorts before `1.2.1` and `-1` after `-`.
                let ord = ta.cmp(tb);
                if ord != Ordering::Equal {
                    return ord;
                }
                a = ra;
                b = rb;
            }
        }
    }
}

fn split_run(s: &[u8], digits: bool) -> (&[u8], &[u8]) {
    let n = s
        .iter()
        .position(|c| c.is_ascii_digit() != digits)
        .unwrap_or(s.len());
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().position(|c| *c != b'0').unwrap_or(s.len());
    &s[n..]
}

/// Compares the running release with the installed ones (pure).
pub fn kernel_status(running: &str, installed: &[InstalledKernel]) -> KernelStatus {
    let running = running.trim();
    if installed.is_empty() {
        return KernelStatus::Unknown {
            running: Some(running.to_string()),
            why: "no installed kernel found in /boot or /lib/modules (a container, or kernels \
                  managed outside this root)"
                .into(),
        };
    }
    if !installed.iter().any(|k| k.release == running) {
        return KernelStatus::Unknown {
            running: Some(running.to_string()),
            why: format!(
                "the running kernel {running} has no /boot/vmlinuz-{running} or \
                 /lib/modules/{running}: not installed from a package here, so installed \
                 kernels cannot be judged against it"
            ),
        };
    }
    let flavour = kernel_flavour(running);
    let newest = installed
        .iter()
        .filter(|k| kernel_flavour(&k.release) == flavour)
        .map(|k| k.release.as_str())
        .max_by(|a, b| compare_versions(a, b))
        .unwrap_or(running);
    if compare_versions(newest, running) == Ordering::Greater {
        KernelStatus::Newer {
            running: running.to_string(),
            newest: newest.to_string(),
        }
    } else {
        KernelStatus::Current {
            running: running.to_string(),
        }
    }
}

/// Reads the running release and the installed kernels of a host and compares them.
pub fn read_kernel_status(host: &Host) -> KernelStatus {
    match host.kernel_release() {
        Ok(running) => kernel_status(&running, &installed_kernels(host)),
        Err(e) => KernelStatus::Unknown {
            running: None,
            why: format!("the running kernel's release cannot be read: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(rel: &str) -> InstalledKernel {
        InstalledKernel {
            release: rel.into(),
            evidence: format!("/boot/vmlinuz-{rel}"),
        }
    }

    #[test]
    fn versions_compare_number_by_number() {
        use Ordering::*;
        let cases = [
            ("6.1.0-18-cloud-amd64", "6.1.0-9-cloud-amd64", Greater),
            ("6.1.0-9-cloud-amd64", "6.1.0-18-cloud-amd64", Less),
            ("6.1.0-18-cloud-amd64", "6.1.0-18-cloud-amd64", Equal),
            ("5.10.0", "5.9.9", Greater),
            ("6.7.4-200.fc39.x86_64", "6.8.5-301.fc40.x86_64", Less),
            (
                "5.14.0-427.13.1.el9_4.x86_64",
                "5.14.0-362.8.1.el9_3.x86_64",
                Greater,
            ),
            ("1.02", "1.2", Equal),
            ("1.2", "1.2.1", Less),
            ("99999999999999999999999", "1", Greater),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn flavours() {
        assert_eq!(kernel_flavour("6.1.0-18-cloud-amd64"), "cloud amd");
        assert_eq!(kernel_flavour("6.1.0-18-amd64"), "amd");
        assert_eq!(kernel_flavour("6.8.0-88-generic"), "generic");
        assert_eq!(
            kernel_flavour("5.14.0-362.8.1.el9_3.x86_64"),
            kernel_flavour("5.14.0-427.13.1.el9_4.x86_64")
        );
        assert_ne!(
            kernel_flavour("5.14.0-362.el9.x86_64"),
            kernel_flavour("5.14.0-362.el9.x86_64+debug")
        );
        assert_ne!(
            kernel_flavour("4.15.0-15.1-liquorix-amd64"),
            kernel_flavour("4.13.0-38-generic")
        );
    }

    #[test]
    fn boot_names() {
        assert_eq!(
            boot_image_release("vmlinuz-6.1.0-18-cloud-amd64"),
            Some("6.1.0-18-cloud-amd64")
        );
        for bad in [
            "initrd.img-6.1.0-18-amd64",
            "vmlinuz-6.1.0-18-amd64.old",
            "vmlinuz-0-rescue-0123456789abcdef",
            "vmlinuz-linux",
            "vmlinuz",
            "System.map-6.1.0-18-amd64",
            "config-6.1.0-18-amd64",
            ".vmlinuz-6.7.4-200.fc39.x86_64.hmac",
            "vmlinuz-6.1.0-18-amd64.dpkg-tmp",
        ] {
            assert_eq!(boot_image_release(bad), None, "{bad}");
        }
    }

    #[test]
    fn status_cases() {
        let inst = [
            k("6.1.0-9-cloud-amd64"),
            k("6.1.0-18-cloud-amd64"),
            k("6.1.0-25-rt-amd64"),
        ];
        assert_eq!(
            kernel_status("6.1.0-9-cloud-amd64", &inst),
            KernelStatus::Newer {
                running: "6.1.0-9-cloud-amd64".into(),
                newest: "6.1.0-18-cloud-amd64".into()
            }
        );
        assert_eq!(
            kernel_status("6.1.0-18-cloud-amd64\n", &inst),
            KernelStatus::Current {
                running: "6.1.0-18-cloud-amd64".into()
            }
        );
        // Booted into an older kernel of another flavour: not compared with rt.
        let inst2 = [k("6.1.0-9-cloud-amd64"), k("6.1.0-25-rt-amd64")];
        assert!(matches!(
            kernel_status("6.1.0-9-cloud-amd64", &inst2),
            KernelStatus::Current { .. }
        ));
        // A custom kernel with no /boot entry: unknown, never "reboot".
        assert!(matches!(
            kernel_status("6.18.44-custom", &inst),
            KernelStatus::Unknown { .. }
        ));
        assert!(matches!(
            kernel_status("6.1.0-9-cloud-amd64", &[]),
            KernelStatus::Unknown { .. }
        ));
    }
}

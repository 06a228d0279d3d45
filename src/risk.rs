//! The risk levels every step is ranked by (a leaf: the errors name them too).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::input::InputError;

/// How much a step can hurt, least risky first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    /// Only reads the host.
    ReadOnly,
    /// Creates something new (a swap file, an fstab line, a ledger entry).
    Additive,
    /// Interrupts something running (stops a unit, kills a process, swapoff).
    Disruptive,
    /// Cannot be put back exactly (removes a package, deletes a file, kills a shim).
    Destructive,
    /// Reboots the host.
    Reboot,
}

impl Risk {
    /// Every level, least risky first.
    pub const ALL: [Risk; 5] = [
        Risk::ReadOnly,
        Risk::Additive,
        Risk::Disruptive,
        Risk::Destructive,
        Risk::Reboot,
    ];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::ReadOnly => "read-only",
            Risk::Additive => "additive",
            Risk::Disruptive => "disruptive",
            Risk::Destructive => "destructive",
            Risk::Reboot => "reboot",
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Risk {
    type Err = InputError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Risk::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| {
                InputError::new(
                    "risk level",
                    s,
                    "unknown level",
                    "one of read-only, additive, disruptive, destructive, reboot",
                )
            })
    }
}

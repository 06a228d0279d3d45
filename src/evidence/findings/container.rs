//! A container's state and log lines as a finding (pure).

use super::super::sources::ContainerEvidence;
use super::kernel::plural;
use crate::finding::{Area, Finding, Proof, Severity, Source};

/// `exited, exit code 137, OOM-killed, 5 restarts, finished 2024-...` (pure).
pub fn container_state_line(c: &ContainerEvidence) -> String {
    let i = &c.info;
    let mut s = format!("{}, exit code {}", i.status, i.exit_code);
    if i.oom_killed {
        s.push_str(", OOM-killed");
    }
    s.push_str(&format!(
        ", {}",
        plural(i.restart_count, "restart", "restarts")
    ));
    let t = i.finished_at.trim();
    if !t.is_empty() && !t.starts_with("0001-") {
        s.push_str(&format!(", finished {t}"));
    }
    s
}

/// The evidence lines and proofs of a container (pure).
pub fn container_parts(c: &ContainerEvidence) -> (Vec<String>, Vec<Proof>) {
    let mut ev = Vec::new();
    let mut engine = vec![container_state_line(c)];
    if !c.info.error.trim().is_empty() {
        engine.push(format!(
            "Error: {}",
            super::super::text::line(&c.info.error)
        ));
    }
    let mut proofs = vec![Proof {
        source: Source::Engine,
        from: format!("docker container inspect {}", c.name),
        lines: engine,
    }];
    proofs.push(Proof {
        source: Source::EngineLog,
        from: c.log_command.clone(),
        lines: c.log.iter().map(|l| l.show()).collect(),
    });
    if let (Some(p), Some(from)) = (&c.pressure, &c.pressure_from) {
        ev.push(format!("memory pressure of its cgroup: {}", p.describe()));
        proofs.push(Proof {
            source: Source::Pressure,
            from: from.clone(),
            lines: vec![p.describe()],
        });
    }
    ev.extend(c.unseen.iter().map(|u| format!("not seen: {u}")));
    (
        ev,
        proofs.into_iter().filter(|p| !p.lines.is_empty()).collect(),
    )
}

/// A finding of its own for a container no other finding is about (pure).
pub fn container_finding(c: &ContainerEvidence) -> Finding {
    let i = &c.info;
    let (sev, title) = if i.oom_killed {
        (
            Severity::Problem,
            format!(
                "container {} was killed for memory (OOMKilled, exit code {})",
                c.name, i.exit_code
            ),
        )
    } else if !i.running && i.exit_code != 0 {
        (
            Severity::Warning,
            format!("container {} exited with code {}", c.name, i.exit_code),
        )
    } else if !i.running && !i.error.trim().is_empty() {
        (
            Severity::Warning,
            format!(
                "container {} is {}: the engine reports an error",
                c.name, i.status
            ),
        )
    } else {
        (
            Severity::Info,
            format!("container {}: {}", c.name, container_state_line(c)),
        )
    };
    Finding::new(Area::Containers, sev, title)
}

//! `container start`: a container that was meant to run, and could not start only because
//! a host port it publishes was taken, is started once the port is free (`doctor --fix`
//! takes it after freeing the port).

use serde::Serialize;

use crate::engine::{ContainerInfo, Engine};
use crate::error::{ContainerError, Error};
use crate::host::Host;
use crate::plan::{Exec, Policy, Report, Risk, Runner};
use crate::port::{WhoSpec, find_holders};

/// What [`start`] starts: [`StartSpec::new`] with the target, then the fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StartSpec {
    /// The container: a name, or an id (full, or a unique prefix). Required.
    pub target: String,
    /// The host ports (TCP) it publishes, which must be free before it is started.
    /// Default none.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// The engine (`--engine`); `None` detects it.
    #[serde(default)]
    pub engine: Option<crate::engine::EngineKind>,
}

impl StartSpec {
    /// Starts `target`, checking no port first.
    pub fn new(target: impl Into<String>) -> Self {
        StartSpec {
            target: target.into(),
            ports: Vec::new(),
            engine: None,
        }
    }

    /// The risk cap a start runs under by default: [`Risk::Additive`] (it starts
    /// something new and interrupts nothing).
    pub fn default_cap(&self) -> Risk {
        Risk::Additive
    }
}

/// What [`start`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Started {
    /// The container as asked for.
    pub target: String,
    /// Its full id, when known.
    pub id: Option<String>,
    /// Its name, when known.
    pub name: Option<String>,
    /// Whether it was running before anything was done.
    pub already_running: bool,
    /// Whether it runs now (under `--dry-run`: whether it already did).
    pub running: bool,
    /// The requests sent to its ports on the loopback addresses once it runs, and their
    /// answers (`doctor --fix` sends them: `127.0.0.1:80: HTTP/1.1 200 OK, Server:
    /// nginx/1.25.5`).
    pub requests: Vec<String>,
}

impl std::fmt::Display for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name.as_deref().unwrap_or(&self.target);
        match (self.already_running, self.running) {
            (true, _) => writeln!(f, "container {name}: already running"),
            (false, true) => writeln!(f, "container {name}: running"),
            (false, false) => writeln!(f, "container {name}: not running"),
        }?;
        for r in &self.requests {
            writeln!(f, "request: {r}")?;
        }
        Ok(())
    }
}

/// Starts a container (`docker start`) after checking every port it publishes is free,
/// and verifies the engine then says it runs. A running container is left alone
/// (`changed: false`).
///
/// # Errors (in the report)
/// [`Error::Input`] for a malformed target; the engine's error; [`ContainerError::NotStarted`]
/// when the engine knows no such container, a port is still held, or it does not run
/// after the start.
///
/// # Example
///
/// ```no_run
/// use hostfix::container::{start, StartSpec};
/// use hostfix::{Host, Policy};
///
/// let mut spec = StartSpec::new("web");
/// spec.ports = vec![80];
/// let report = start(&Host::live(), &spec, &Policy::new(spec.default_cap()));
/// assert!(report.is_ok(), "{report}");
/// ```
pub fn start(host: &Host, spec: &StartSpec, policy: &Policy) -> Report<Started> {
    let mut run = Runner::new("container start", host, policy);
    let mut out = Started {
        target: spec.target.clone(),
        ..Started::default()
    };
    let res = walk(&mut run, spec, &mut out);
    run.finish_with(out, res.err())
}

fn not_started(name: &str, why: impl Into<String>) -> Error {
    ContainerError::NotStarted {
        name: name.to_string(),
        why: why.into(),
    }
    .into()
}

fn walk(run: &mut Runner<'_>, spec: &StartSpec, out: &mut Started) -> Result<(), Error> {
    let host = run.host();
    let target = super::options::validate_target(&spec.target)?;
    let engine = Engine::locate(host, spec.engine)?;
    let info = inspect(host, &engine, &target)?;
    out.id = Some(info.id.clone());
    out.name = Some(info.name.clone());
    if info.running {
        out.already_running = true;
        out.running = true;
        run.observe(format!("inspect {target}"), "running");
        return Ok(());
    }
    run.observe(format!("inspect {target}"), info.status.to_string());
    for &port in &spec.ports {
        let mut who = WhoSpec::tcp(port);
        who.engine = spec.engine;
        let h = find_holders(host, &who)?;
        if !h.is_free() {
            let who: Vec<&str> = h.groups.iter().map(|g| g.summary.as_str()).collect();
            return Err(not_started(
                &info.name,
                format!("host port {port} is still held by {}", who.join("; ")),
            ));
        }
        run.observe(format!("port {port}/tcp"), "free");
    }
    let exec = run.step(
        format!("docker start {}", info.name),
        Risk::Additive,
        "it was meant to run, and could not start only because its host port was taken",
        |h| {
            let o = engine.run(h, &["start", &info.id], engine.limits.command)?;
            match o.failure {
                None => Ok("started".to_string()),
                Some(_) => Err(o.to_error().into()),
            }
        },
    )?;
    if exec == Exec::Planned {
        return Ok(());
    }
    let now = inspect(host, &engine, &info.id)?;
    if !now.running {
        return Err(not_started(
            &info.name,
            format!("the engine says {} ({})", now.status, now.error.trim()),
        ));
    }
    out.running = true;
    run.observe(format!("inspect {}", info.name), "running");
    Ok(())
}

fn inspect(host: &Host, engine: &Engine, target: &str) -> Result<ContainerInfo, Error> {
    engine
        .inspect(host, target)?
        .ok_or_else(|| not_started(target, "the engine knows no such container"))
}

//! The demo's processes: the gateway, each county and the partner simulator run as children
//! of the demo (this same binary with `run`, `node` or `partner-sim`), each with its own log
//! file and store; the demo stops them all with SIGTERM and waits.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// How long a process may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a process may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One running child.
#[derive(Debug)]
pub struct Process {
    /// Its name in the demo (gateway, 510104, partner-sim).
    pub name: String,
    /// The ports it listens on once ready.
    pub ports: Vec<u16>,
    child: Child,
    log: std::path::PathBuf,
}

/// Every child of the demo; stopped when dropped.
#[derive(Debug, Default)]
pub struct Processes {
    list: Vec<Process>,
}

impl Processes {
    /// Starts this binary with `args` as `name`, logging to `log`; ready once `ports` accept.
    pub fn spawn(
        &mut self,
        name: &str,
        args: &[&str],
        ports: Vec<u16>,
        log: &Path,
        dir: &Path,
    ) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("finding this program's path")?;
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(exe)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.list.push(Process {
            name: name.to_owned(),
            ports,
            child,
            log: log.to_owned(),
        });
        Ok(())
    }

    /// Waits until every child listens on its ports; fails with the log's last lines of one
    /// that exits first. `progress` is called with each name as it comes up.
    pub fn wait_ready(&mut self, mut progress: impl FnMut(&str)) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        for p in &mut self.list {
            loop {
                if let Some(status) = p.child.try_wait()? {
                    anyhow::bail!(
                        "{} stopped at start ({status}); the end of {}:\n{}",
                        p.name,
                        p.log.display(),
                        tail(&p.log)
                    );
                }
                let up = p.ports.iter().all(|port| {
                    std::net::TcpStream::connect_timeout(
                        &super::setup::Ports::addr(*port),
                        Duration::from_millis(200),
                    )
                    .is_ok()
                });
                if up {
                    progress(&p.name);
                    break;
                }
                if Instant::now() > deadline {
                    anyhow::bail!(
                        "{} did not start listening within {START_TIMEOUT:?}; see {}",
                        p.name,
                        p.log.display()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(())
    }

    /// The first child that has exited, with how.
    pub fn exited(&mut self) -> Option<String> {
        self.list.iter_mut().find_map(|p| match p.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "{} stopped ({status}); see {}",
                p.name,
                p.log.display()
            )),
            _ => None,
        })
    }

    /// The process ids, for scripts and tests (`<dir>/pids`).
    pub fn pids(&self) -> Vec<(String, u32)> {
        self.list
            .iter()
            .map(|p| (p.name.clone(), p.child.id()))
            .collect()
    }

    /// SIGTERM to every child, then waits for each (SIGKILL after [`STOP_TIMEOUT`]).
    pub fn stop(&mut self) {
        for p in &self.list {
            if let Ok(pid) = i32::try_from(p.child.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        for p in &mut self.list {
            loop {
                match p.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() > deadline => {
                        eprintln!("{} did not stop in {STOP_TIMEOUT:?}: killing it", p.name);
                        let _ = p.child.kill();
                        let _ = p.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        self.list.clear();
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

//! Starting a testnet's nodes as child processes of this binary (for `demo`
//! and `bench`), waiting for them by polling with a deadline, and stopping
//! them with SIGTERM.

use crate::client::Gateway;
use crate::testnet::TestnetNode;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct LocalCluster {
    pub nodes: Vec<TestnetNode>,
    children: Vec<Child>,
}

impl LocalCluster {
    /// Starts one `coldchain node` per testnet node; logs go to NAME/node.log.
    pub fn start(nodes: Vec<TestnetNode>) -> Result<LocalCluster> {
        let exe = std::env::current_exe()?;
        let mut children = Vec::new();
        for n in &nodes {
            let dir = n.config.parent().unwrap_or(Path::new("."));
            let log = std::fs::File::create(dir.join("node.log"))?;
            let child = Command::new(&exe)
                .arg("node")
                .arg("--config")
                .arg(&n.config)
                .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .with_context(|| format!("starting node {}", n.name))?;
            children.push(child);
        }
        Ok(LocalCluster { nodes, children })
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Polls every gateway until all answer `/readyz` (connected to enough
    /// validators for a quorum), or fails at the deadline. An idle
    /// consortium makes no blocks (docs/PROTOCOL.md, Rule I), so readiness,
    /// not a height, says it is up.
    pub fn wait_until_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            for (n, child) in self.nodes.iter().zip(self.children.iter_mut()) {
                if let Some(status) = child.try_wait()? {
                    bail!("node {} exited ({status}); see {}", n.name, n.config.with_file_name("node.log").display());
                }
            }
            let ready = self.nodes.iter().all(|n| Gateway::new(&n.gateway).get("/readyz").ok().is_some_and(|a| a.status == 200));
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the consortium was not ready within {timeout:?}; see the node.log files");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM to every node, then wait for them to exit.
    pub fn stop(&mut self) {
        for child in &self.children {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
        }
        for child in &mut self.children {
            let deadline = Instant::now() + Duration::from_secs(10);
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

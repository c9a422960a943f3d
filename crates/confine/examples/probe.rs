//! Runs one command confined like a Lambda function of the given memory size and prints how
//! it was confined and how it ended: `cargo run -p faasml-confine --example probe -- 128 python3
//! -c "b = b'x' * (200 * 2**20)"`.

use std::process::Command;

use faasml_confine::{Limits, Sandbox};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: probe MEMORY_MB COMMAND [ARGS...]";
    let memory_mb: u64 = args.next().ok_or(usage)?.parse()?;
    let program = args.next().ok_or(usage)?;
    let limits = Limits::lambda(memory_mb);
    let sandbox = Sandbox::new("probe", limits)?;
    println!("limits: {limits:?}");
    println!("mechanism: {}", sandbox.mechanism());
    if let Some(why) = sandbox.fallback_reason() {
        println!("fallback reason: {why}");
    }
    for dir in sandbox.cgroup_dirs() {
        println!("cgroup: {}", dir.display());
    }
    let mut cmd = Command::new(program);
    cmd.args(args);
    sandbox.confine(&mut cmd);
    let status = cmd.status()?;
    let outcome = sandbox.outcome(status);
    println!("outcome: {outcome}");
    println!("peak memory bytes: {:?}", sandbox.peak_memory_bytes());
    println!("oom kills: {}", sandbox.oom_kills());
    sandbox.close()?;
    Ok(())
}

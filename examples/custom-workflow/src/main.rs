//! `faasml-example`: the `faasml` command with one more workflow, `monte-carlo-pi`, defined in
//! [`pi`] — the whole of adding a workflow is that module and the one line below that lists it.
//!
//! ```sh
//! cargo run -p faasml-example-workflow -- run monte-carlo-pi --samples 10000000 --functions 8
//! cargo run -p faasml-example-workflow -- bench monte-carlo-pi --functions 1,2,4,8
//! cargo run -p faasml-example-workflow -- deploy knative --image REGISTRY/faasml-example:TAG
//! ```

mod pi;

fn main() -> std::process::ExitCode {
    let mut workflows = faasml_workflows::workflows();
    workflows.push(&pi::MonteCarloPi);
    faasml::main_with(workflows)
}

//! The `faasml` binary: the command line of [`faasml`] over the built-in workflows.

fn main() -> std::process::ExitCode {
    faasml::main_with(faasml_workflows::workflows())
}

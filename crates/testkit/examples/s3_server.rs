//! A loopback S3 server for manual runs and benchmarks: prints the environment a client needs,
//! then serves until its standard input closes (or the process is killed).
//!
//! ```sh
//! cargo run --release -p faasml-testkit --example s3_server > /tmp/s3.env &
//! . /tmp/s3.env   # exports AWS_* and FAASML_S3_URL
//! ```

use std::io::{Read as _, Write as _};

fn main() {
    let server = faasml_testkit::S3Server::start();
    let mut out = std::io::stdout();
    for (key, value) in server.env() {
        let _ = writeln!(out, "export {key}='{value}'");
    }
    let _ = writeln!(out, "export FAASML_S3_URL='{}'", server.url("faasml"));
    let _ = out.flush();
    // Serve until stdin reaches end of file.
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    if sink.is_empty() {
        // stdin was closed at start (e.g. `< /dev/null`): serve until killed.
        loop {
            std::thread::park();
        }
    }
}

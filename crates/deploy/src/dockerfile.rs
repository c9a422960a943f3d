//! The worker image's Dockerfile: a multi-stage build (Rust builder, Debian slim runtime) of
//! `faasml` with the bundled datasets, running `faasml serve` as a non-root user.
//!
//! The text is `deploy/Dockerfile` itself, included at compile time, so the committed file and
//! `faasml deploy dockerfile` cannot differ.

/// The Dockerfile, built from the repository root with `docker build -f deploy/Dockerfile .`.
pub const DOCKERFILE: &str = include_str!("../../../deploy/Dockerfile");

#[cfg(test)]
mod tests {
    use super::DOCKERFILE;

    #[test]
    fn dockerfile_has_the_required_shape() {
        let lines: Vec<&str> = DOCKERFILE.lines().collect();
        let from: Vec<&&str> = lines.iter().filter(|l| l.starts_with("FROM ")).collect();
        assert_eq!(from.len(), 2, "multi-stage: builder and runtime");
        assert!(from[0].contains("rust:") && from[0].ends_with(" AS build"));
        assert_eq!(*from[1], "FROM debian:bookworm-slim");
        for line in [
            "USER 10001:10001",
            "EXPOSE 8080",
            r#"ENTRYPOINT ["faasml"]"#,
            r#"CMD ["serve"]"#,
        ] {
            assert!(lines.contains(&line), "missing {line}");
        }
        assert!(DOCKERFILE.contains("ENV FAASML_DATA_DIR=/opt/faasml/data"));
        // In a container the worker listens on every address, so it needs its key (or an
        // explicit --insecure) to start.
        assert!(DOCKERFILE.contains("    FAASML_HOST=0.0.0.0 \\\n"));
        assert!(DOCKERFILE.contains("COPY --chown=root:root data /opt/faasml/data"));
        assert!(DOCKERFILE.ends_with("CMD [\"serve\"]\n"));
    }
}

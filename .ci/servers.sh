#!/usr/bin/env bash
# Installs the servers faasml's tests start on 127.0.0.1. Sourced by .ci/run (set -euo pipefail
# is on there); idempotent and quiet on success. It starts nothing: every test starts and stops
# its own servers (crates/testkit).
#
# - redis-server: the Redis state-store tests (crates/state) spawn one per test.
# - S3: nothing to install; the tests run an s3s server in-process (crates/testkit).

faasml_install_servers() {
    if ! command -v redis-server >/dev/null 2>&1; then
        local sudo=""
        if [ "$(id -u)" -ne 0 ]; then
            sudo="sudo"
        fi
        local log
        log="$(mktemp)"
        if ! { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq \
            && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
                redis-server; } >"$log" 2>&1; then
            cat "$log" >&2
            rm -f "$log"
            echo "servers.sh: could not install redis-server" >&2
            return 1
        fi
        rm -f "$log"
        # The Debian package may start a system service; the tests do not use it.
        if command -v service >/dev/null 2>&1; then
            $sudo service redis-server stop >/dev/null 2>&1 || true
        fi
    fi
    command -v redis-server >/dev/null 2>&1 || {
        echo "servers.sh: redis-server is still not on PATH" >&2
        return 1
    }
}

faasml_install_servers

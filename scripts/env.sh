# Puts the project's toolchain first on PATH: `source scripts/env.sh` in a shell, or
# sourced by the other scripts. Node's own headers serve native addon builds (node-gyp
# must not try to download them: these machines reach only package registries).
canbridge_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$canbridge_root/.toolchain/bin:$PATH"
node_pkg_dir=$(cd "$canbridge_root/.toolchain/bin" 2>/dev/null && dirname "$(dirname "$(readlink -f node)")")
if [ -n "${node_pkg_dir:-}" ] && [ -d "$node_pkg_dir/include/node" ]; then
  export npm_config_nodedir="$node_pkg_dir"
fi
unset node_pkg_dir

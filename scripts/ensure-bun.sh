#!/usr/bin/env bash
# Makes .tools/bin/bun point at Bun of the pinned version (.bun-version): the one on PATH when it
# is that version, else the official binary package from the npm registry, installed inside the
# project (.tools/). Needs only node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
pin=$(cat .bun-version)
mkdir -p .tools/bin
link=.tools/bin/bun
if [ -x "$link" ] && [ "$("$link" --version 2>/dev/null)" = "$pin" ]; then exit 0; fi
if command -v bun >/dev/null 2>&1 && [ "$(bun --version 2>/dev/null)" = "$pin" ]; then
  ln -sf "$(command -v bun)" "$link"; exit 0
fi
# The plain x64 build needs AVX2; older CPUs get Bun's baseline build.
pkg=@oven/bun-linux-x64
case "$(uname -m)" in
  aarch64|arm64) pkg=@oven/bun-linux-aarch64 ;;
  *) grep -qw avx2 /proc/cpuinfo || pkg=@oven/bun-linux-x64-baseline ;;
esac
dir=.tools/bun-$pin
echo "fetching Bun $pin ($pkg) from the npm registry into $dir" >&2
npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$dir" "$pkg@$pin" >&2
bin="$dir/node_modules/$pkg/bin/bun"
[ -x "$bin" ] || { echo "error: $bin missing after npm install of $pkg@$pin" >&2; exit 1; }
ln -sf "$PWD/$bin" "$link"
"$link" --version >/dev/null

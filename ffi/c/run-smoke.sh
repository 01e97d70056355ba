#!/usr/bin/env bash
# Builds the C smoke test against the workspace's libhitmap_ffi.so and runs
# it under valgrind. Usage: ffi/c/run-smoke.sh [target dir, default target/debug]
set -euo pipefail
cd "$(dirname "$0")/../.."
lib="${1:-target/debug}"
out="$lib/hitmap-smoke"
cc -Wall -Wextra -Werror -std=c11 -I ffi/include ffi/c/smoke.c -L "$lib" -lhitmap_ffi -o "$out"
store="$(mktemp -d)"
trap 'rm -rf "$store"' EXIT
LD_LIBRARY_PATH="$lib" valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=1 "$out" "$store/metrics"

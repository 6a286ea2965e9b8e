#!/usr/bin/env bash
# ci/examples.sh - builds coio and runs the seed's examples on every backend
# of the platform: natively on Linux (epoll, io_uring) and, cross-built with
# mingw-w64, on Windows' IOCP under Wine. Prints each example's output and
# checks it against what ../shared/SEED.md describes. Installs what it needs
# first (ci/deps.sh). `ci/examples.sh linux` skips the Windows part.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

want=${1:-all}
if [ "$want" = linux ]; then "$root/ci/deps.sh" linux || exit 1; else "$root/ci/deps.sh" all || exit 1; fi
mkdir -p "$BUILD_ROOT"

pass=0
fail=0
# Expected stdout of each example, as an extended regex over the whole output.
stamp='[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}'
declare -A expect=(
  [01_call_soon]='^Hello World$'
  [02_call_later]="^($stamp
){4}$stamp$"
  [03_add_reader]='^Received: abc$'
)
examples=(01_call_soon 02_call_later 03_add_reader)

# run_all BUILD_DIR EXE_SUFFIX RUNNER BACKEND...
run_all() {
  local dir=$1 suffix=$2 runner=$3
  shift 3
  local backend ex out rc
  for backend in "$@"; do
    for ex in "${examples[@]}"; do
      printf -- '--- %s on %s\n' "$ex" "$backend"
      out=$(COIO_BACKEND=$backend timeout 60 $runner "$dir/examples/ex$ex$suffix" 2>&1 | tr -d '\r')
      rc=${PIPESTATUS[0]}
      printf '%s\n' "$out" | sed 's/^/    /'
      if [ "$rc" = 0 ] && [[ "$out" =~ ${expect[$ex]} ]]; then
        pass=$((pass + 1))
      else
        echo "    FAILED (exit $rc; expected output matching: ${expect[$ex]})"
        fail=$((fail + 1))
      fi
    done
  done
}

log "linux: build"
if configure_linux_release && build linux-gcc-release >/dev/null; then
  mapfile -t linux_backends < <(sed -n 's/^COIO_BACKENDS_BUILT:INTERNAL=//p' "$BUILD_ROOT/linux-gcc-release/CMakeCache.txt" | tr ';' '\n')
  [ ${#linux_backends[@]} -gt 0 ] || linux_backends=(epoll io_uring)
  log "linux: examples on ${linux_backends[*]}"
  run_all "$BUILD_ROOT/linux-gcc-release" "" "" "${linux_backends[@]}"
else
  echo "linux build FAILED"
  fail=$((fail + 1))
fi

if [ "$want" != linux ]; then
  log "windows (mingw-w64, under Wine): build"
  if configure_windows && build windows-mingw-wine >/dev/null; then
    log "windows: examples on iocp"
    run_all "$BUILD_ROOT/windows-mingw-wine" ".exe" "wine" iocp
  else
    echo "windows build FAILED"
    fail=$((fail + 1))
  fi
  wineserver -k 2>/dev/null || true
fi

printf '\nexamples: %d passed, %d failed\n' "$pass" "$fail"
[ "$fail" = 0 ]

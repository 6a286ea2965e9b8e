#!/usr/bin/env bash
# ci/examples.sh - builds coio and runs the seed's examples on every backend
# of the platform: natively on Linux (epoll, io_uring) and, cross-built with
# mingw-w64, on Windows' IOCP under Wine. Each example is a CTest test per
# backend (label "example") whose output is checked against what
# ../shared/SEED.md describes (the expectations live in
# examples/CMakeLists.txt); this script runs them verbosely, so every
# example's output is shown. Installs what it needs first (ci/deps.sh).
# `ci/examples.sh linux` skips the Windows part.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

want=${1:-all}
if [ "$want" = linux ]; then "$root/ci/deps.sh" linux || exit 1; else "$root/ci/deps.sh" all || exit 1; fi
mkdir -p "$BUILD_ROOT"
failed=0
summary=()

# run_examples NAME JOBS: the example tests of build NAME, with their output.
run_examples() {
  local name=$1 jobs=$2 junit=$BUILD_ROOT/$1.examples.xml
  (cd "$BUILD_ROOT/$name" && ctest -L example -V -j "$jobs" --timeout 300 --output-junit "$junit") |
    grep -vE '^(UpdateCTestConfiguration|Parse|Test project|Constructing|Checking|Updating|Add coverage| *Start|test [0-9]+$)' ||
    failed=1
  summary+=("$(python3 "$root/ci/junit_summary.py" "$name examples" "$junit" | paste -sd ';' -)") || failed=1
}

log "linux: build"
if configure_linux_release && build linux-gcc-release >/dev/null; then
  run_examples linux-gcc-release "$JOBS"
else
  echo "linux build FAILED"
  failed=1
fi

if [ "$want" != linux ]; then
  log "windows (mingw-w64, under Wine): build"
  if configure_windows && build windows-mingw-wine >/dev/null; then
    run_examples windows-mingw-wine 1
  else
    echo "windows build FAILED"
    failed=1
  fi
  wineserver -k 2>/dev/null || true
fi

printf '\n=== summary\n'
printf '%s\n' "${summary[@]}" | tr ';' '\n'
[ "$failed" = 0 ] && ! printf '%s\n' "${summary[@]}" | grep -q 'FAILED\|[1-9][0-9]* failed'

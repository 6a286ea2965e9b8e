#!/usr/bin/env bash
# ci/test.sh - builds and runs the whole test suite, installing what it
# needs first (ci/deps.sh):
#   linux-gcc-release       gcc, Release, -Werror; every backend (epoll, io_uring)
#   linux-clang-asan-ubsan  clang, Debug, AddressSanitizer + UndefinedBehaviorSanitizer
#   linux-clang-tsan        clang, ThreadSanitizer, the suites where threads meet the loop
#   windows-mingw-wine      mingw-w64 cross build, tests run under Wine on IOCP
#   fuzz                    clang + libFuzzer: a brief run of tests/fuzz/fuzz_stream_reader
#                           and of tests/fuzz/fuzz_tls (the TLS engine, 10 s)
#   install                 install + find_package(coio) + pkg-config consumer
# Ends with one summary line per configuration and backend, then a total;
# exits non-zero on any failure.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

only=${1:-all} # run one configuration: release | asan | tsan | windows | fuzz | install
"$root/ci/deps.sh" all || exit 1
mkdir -p "$BUILD_ROOT"
summary=()
failed=0
tot_pass=0
tot_fail=0
tot_skip=0

# run_ctest NAME [ctest args...]: runs ctest with a JUnit report and adds one
# summary line per backend label.
run_ctest() {
  local name=$1
  shift
  local junit=$BUILD_ROOT/$name.junit.xml
  local rc=0
  (cd "$BUILD_ROOT/$name" && ctest --output-on-failure -j "$JOBS" --timeout 300 \
    --output-junit "$junit" "$@") || rc=1
  [ $rc = 0 ] || failed=1
  local lines
  lines=$(python3 "$root/ci/junit_summary.py" "$name" "$junit") || { failed=1; lines="$name: no test report"; }
  while IFS= read -r l; do
    summary+=("$l")
    # the last field of each line: pass fail skip counts for the total
    set -- $(echo "$l" | sed -E 's/.* ([0-9]+) passed, ([0-9]+) failed, ([0-9]+) skipped.*/\1 \2 \3/')
    if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
      tot_pass=$((tot_pass + $1)); tot_fail=$((tot_fail + $2)); tot_skip=$((tot_skip + $3))
    fi
  done <<<"$lines"
}

step() { # step NAME command...: a build step; failure fails the run
  local name=$1
  shift
  if ! "$@"; then
    summary+=("$name: BUILD FAILED")
    failed=1
    return 1
  fi
}

if [ "$only" = all ] || [ "$only" = release ]; then
  log "linux-gcc-release"
  step linux-gcc-release configure_linux_release && step linux-gcc-release build linux-gcc-release &&
    run_ctest linux-gcc-release
fi

if [ "$only" = all ] || [ "$only" = asan ]; then
  log "linux-clang-asan-ubsan"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  step linux-clang-asan-ubsan configure_linux_asan && step linux-clang-asan-ubsan build linux-clang-asan-ubsan &&
    run_ctest linux-clang-asan-ubsan
fi

if [ "$only" = all ] || [ "$only" = tsan ]; then
  log "linux-clang-tsan"
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  step linux-clang-tsan configure_linux_tsan && step linux-clang-tsan build linux-clang-tsan &&
    run_ctest linux-clang-tsan -R '^(threadsafe|loop|executor|dns|task|combinators|coro|sync|signal)/'
fi

if [ "$only" = all ] || [ "$only" = windows ]; then
  log "windows-mingw-wine"
  # Tests run one at a time under Wine: its wineserver serialises anyway, and
  # parallel first starts of a prefix race.
  step windows-mingw-wine configure_windows && step windows-mingw-wine build windows-mingw-wine &&
    JOBS=1 run_ctest windows-mingw-wine
  wineserver -k 2>/dev/null || true
fi

# BEGIN streams: a brief libFuzzer run of the stream reader (clang)
if [ "$only" = all ] || [ "$only" = fuzz ]; then
  log "fuzz"
  if CC=clang CXX=clang++ configure fuzz -DCMAKE_BUILD_TYPE=Debug -DCOIO_BUILD_FUZZ=ON \
      -DCOIO_BUILD_EXAMPLES=OFF && cmake --build "$BUILD_ROOT/fuzz" --target fuzz_stream_reader >/dev/null; then
    mkdir -p "$BUILD_ROOT/fuzz/corpus-stream"
    if "$BUILD_ROOT/fuzz/tests/fuzz/fuzz_stream_reader" -max_total_time=20 -runs=5000000 \
        "$BUILD_ROOT/fuzz/corpus-stream" >"$BUILD_ROOT/fuzz/fuzz_stream_reader.log" 2>&1; then
      summary+=("fuzz: 1 passed, 0 failed, 0 skipped (fuzz_stream_reader, 20 s)")
      tot_pass=$((tot_pass + 1))
    else
      tail -40 "$BUILD_ROOT/fuzz/fuzz_stream_reader.log"
      summary+=("fuzz: 0 passed, 1 failed, 0 skipped (fuzz_stream_reader)")
      tot_fail=$((tot_fail + 1))
      failed=1
    fi
  else
    summary+=("fuzz: BUILD FAILED")
    failed=1
  fi
fi
# END streams

# BEGIN tls: a brief libFuzzer run of the TLS engine (in the fuzz build configured above)
if [ "$only" = all ] || [ "$only" = fuzz ]; then
  if [ -f "$BUILD_ROOT/fuzz/build.ninja" ] &&
      cmake --build "$BUILD_ROOT/fuzz" --target fuzz_tls >/dev/null; then
    mkdir -p "$BUILD_ROOT/fuzz/corpus-tls"
    if "$BUILD_ROOT/fuzz/tests/fuzz/fuzz_tls" -max_total_time=10 \
        "$BUILD_ROOT/fuzz/corpus-tls" >"$BUILD_ROOT/fuzz/fuzz_tls.log" 2>&1; then
      summary+=("fuzz-tls: 1 passed, 0 failed, 0 skipped (fuzz_tls, 10 s)")
      tot_pass=$((tot_pass + 1))
    else
      tail -40 "$BUILD_ROOT/fuzz/fuzz_tls.log"
      summary+=("fuzz-tls: 0 passed, 1 failed, 0 skipped (fuzz_tls)")
      tot_fail=$((tot_fail + 1))
      failed=1
    fi
  else
    summary+=("fuzz-tls: BUILD FAILED")
    failed=1
  fi
fi
# END tls

if [ "$only" = all ] || [ "$only" = install ]; then
  log "install"
  if configure_linux_release && build linux-gcc-release >/dev/null; then
    if "$root/ci/install_check.sh" "$BUILD_ROOT/linux-gcc-release" "$BUILD_ROOT/install-check"; then
      summary+=("install: 1 passed, 0 failed, 0 skipped (find_package + pkg-config consumer)")
      tot_pass=$((tot_pass + 1))
    else
      summary+=("install: 0 passed, 1 failed, 0 skipped (find_package + pkg-config consumer)")
      tot_fail=$((tot_fail + 1))
      failed=1
    fi
  else
    summary+=("install: BUILD FAILED")
    failed=1
  fi
fi

printf '\n=== summary\n'
printf '%s\n' "${summary[@]}"
[ $failed = 0 ] && [ $tot_fail = 0 ] || { failed=1; [ $tot_fail -gt 0 ] || tot_fail=1; }
printf 'total: %d passed, %d failed, %d skipped\n' "$tot_pass" "$tot_fail" "$tot_skip"
exit $failed

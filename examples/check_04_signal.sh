#!/bin/sh
# examples/check_04_signal.sh EXE [SIGNAL...] - the check of example 4 on
# POSIX (CTest and ci/examples.sh). Example 4 waits for a signal, so this
# runs it once per SIGNAL (default: INT TERM): it starts it with its output
# on a FIFO, reads that output line by line until the pid line appears (no
# sleep: the example prints it, flushed, once its handlers are in place),
# sends the signal to that pid, reads the rest until the example exits, and
# compares the whole output and the exit code with what the seed describes.
# Prints each run's output; exits 0 when every run passed.
set -u
exe=$1
shift
[ $# -gt 0 ] || set -- INT TERM
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
status=0
for sig in "$@"; do
  fifo=$dir/out.$sig
  mkfifo "$fifo" || exit 1
  # The child opens the FIFO (blocking until we do) and execs: $! is the
  # example's own pid.
  "$exe" >"$fifo" 2>&1 &
  pid=$!
  out=
  sent=no
  while IFS= read -r line; do
    out="$out$line
"
    if [ "$sent" = no ] && [ "$line" = "pid $pid: send SIGINT or SIGTERM to exit." ]; then
      kill -s "$sig" "$pid" && sent=yes
    fi
  done <"$fifo"
  wait "$pid"
  rc=$?
  printf '%s' "$out"
  expected="Event loop running forever, press Ctrl+C to interrupt.
pid $pid: send SIGINT or SIGTERM to exit.
got signal SIG$sig: exit
"
  if [ "$rc" != 0 ] || [ "$sent" != yes ] || [ "$out" != "$expected" ]; then
    printf 'FAILED (SIG%s; signal sent: %s; exit %s); expected:\n%s' "$sig" "$sent" "$rc" "$expected" >&2
    status=1
  fi
done
exit $status

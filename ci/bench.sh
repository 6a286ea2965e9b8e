#!/usr/bin/env bash
# ci/bench.sh [--quick] - builds the benchmarks (gcc, Release) and runs them:
# coio's loop and task micro-benchmarks against libuv; echo ping-pong over
# loopback TCP (coio's protocol API, streams API and tasks + sock_* servers)
# against libuv, Boost.Asio, libevent and raw epoll / io_uring servers; and
# the scale cells (10,000 idle connections, a burst of 10,000 connects)
# against each of those servers, a fresh server per run. Every cell runs
# after a warm-up and is repeated (3 times, median reported; --quick: once,
# with short cells). Writes bench.md and bench.json (absolute figures and
# coio's ratios to libuv and to the raw limit of the same kind) under
# $BUILD_ROOT/bench-release/bench/, and prints the table at the end.
# The benchmark reports; it does not fail on slow figures.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  *) echo "usage: ci/bench.sh [--quick]" >&2; exit 2 ;;
esac

"$root/ci/deps.sh" linux
mkdir -p "$BUILD_ROOT"
name=bench-release
log "building $name"
CC=gcc CXX=g++ configure $name -DCMAKE_BUILD_TYPE=Release -DCOIO_WITH_IO_URING=ON -DCOIO_BUILD_EXAMPLES=OFF
bindir=$BUILD_ROOT/$name/tests/bench
targets=(bench_micro_coio bench_micro_uv bench_echo_client bench_echo_coio bench_echo_uv bench_echo_epoll
  bench_echo_uring bench_echo_asio bench_echo_libevent bench_scale_client
  bench_proc_writer bench_proc_raw bench_proc_uv bench_proc_coio bench_tls_bulk bench_echo_asio_tls)
cmake --build "$BUILD_ROOT/$name" -j "$JOBS" --target "${targets[@]}"

out=$BUILD_ROOT/$name/bench
mkdir -p "$out"
load_before=$(cut -d' ' -f1-3 /proc/loadavg) # other work on the machine skews every figure
results=$out/results.txt
# The scale cells hold 10,000 connections: every server and the client need
# more descriptors than the usual soft limit of 1024.
ulimit -n "$(ulimit -Hn)"
: >"$results"

if [ $quick = 1 ]; then
  micro_args=(--quick)
  echo_args=(--warmup 0.2 --duration 0.5 --repeat 1)
else
  micro_args=(--repeat 3)
  echo_args=(--warmup 1 --duration 2 --repeat 3)
fi

# Echo: server on the last CPU, client on the first (the micro-benchmarks are
# not pinned: the call_soon_threadsafe one needs two threads).
ncpu=$(nproc)
server_cpu=$((ncpu - 1))
client_cpu=0

backends=(epoll)
if "$bindir/bench_micro_coio" --backend io_uring --probe; then
  backends+=(io_uring)
else
  log "io_uring is not available here: its cells stay empty"
fi

for b in "${backends[@]}"; do
  log "loop and task micro-benchmarks: coio on $b"
  "$bindir/bench_micro_coio" --backend "$b" "${micro_args[@]}" | tee -a "$results"
done
log "loop micro-benchmarks: libuv"
"$bindir/bench_micro_uv" "${micro_args[@]}" | tee -a "$results"

# Echo: one server process per implementation, every cell against it.
cells=("c1_64B 1 64 1" "c16_1KiB 16 1024 1" "c64_1KiB 64 1024 1" "c16_16KiB 16 16384 1"
  "c16_64B_pipelined8 16 64 8")
servers=()
for b in "${backends[@]}"; do
  servers+=("coio-$b bench_echo_coio --backend $b --mode protocol"
    "coio-streams-$b bench_echo_coio --backend $b --mode streams"
    "coio-sock-$b bench_echo_coio --backend $b --mode sock")
done
servers+=("libuv bench_echo_uv" "asio bench_echo_asio" "libevent bench_echo_libevent"
  "raw-epoll bench_echo_epoll")
if [[ " ${backends[*]} " == *" io_uring "* ]]; then
  servers+=("raw-io_uring bench_echo_uring")
fi

# start_server IMPL PROGRAM ARGS...: starts it pinned to the server CPU; sets
# spid and port (each server listens on a free port and writes it to a file).
start_server() {
  local impl=$1 portfile=$out/$1.port
  rm -f "$portfile"
  "$bindir/$2" "${@:3}" --port 0 --port-file "$portfile" --cpu $server_cpu &
  spid=$!
  for _ in $(seq 100); do [ -s "$portfile" ] || ! kill -0 $spid 2>/dev/null && break; sleep 0.05; done
  port=$(cat "$portfile" 2>/dev/null || echo 0)
}
stop_server() {
  kill $spid 2>/dev/null || true
  wait $spid 2>/dev/null || true
}

for s in "${servers[@]}"; do
  set -- $s
  impl=$1
  start_server "$@"
  log "echo: $impl (port $port)"
  for c in "${cells[@]}"; do
    set -- $c
    "$bindir/bench_echo_client" --port $port --conns "$2" --size "$3" --inflight "$4" \
      "${echo_args[@]}" --server-pid $spid --cpu $client_cpu --impl "$impl" --cell "$1" |
      tee -a "$results" || echo "echo: $impl $1 failed" >&2
  done
  stop_server
done

# Scale: a fresh server per run (memory it freed earlier would hide the
# growth); a warm-up run (not reported), then the repeats. report.py takes
# the median of the runs.
if [ $quick = 1 ]; then scale_runs=(report); else scale_runs=(warmup report report report); fi
for s in "${servers[@]}"; do
  set -- $s
  impl=$1
  log "scale: $impl"
  for run in "${scale_runs[@]}"; do
    start_server "$@"
    "$bindir/bench_scale_client" --port $port --server-pid $spid --cpu $client_cpu --impl "$impl" \
      $([ $run = warmup ] && echo --quiet) | tee -a "$results" || echo "scale: $impl failed" >&2
    stop_server
  done
done

# Subprocesses: spawn-and-wait rate, and a child's stdout read across cores
# (the parent on the server CPU, the writing child on the client CPU).
proc_args=(--writer "$bindir/bench_proc_writer" --cpu $server_cpu --other-cpu $client_cpu)
[ $quick = 1 ] && proc_args+=(--quick)
log "subprocesses: raw posix_spawn / read()"
"$bindir/bench_proc_raw" "${proc_args[@]}" | tee -a "$results" || echo "proc: raw failed" >&2
log "subprocesses: libuv"
"$bindir/bench_proc_uv" "${proc_args[@]}" | tee -a "$results" || echo "proc: libuv failed" >&2
for b in "${backends[@]}"; do
  log "subprocesses: coio on $b"
  "$bindir/bench_proc_coio" --backend "$b" "${proc_args[@]}" | tee -a "$results" ||
    echo "proc: coio-$b failed" >&2
done

# TLS: a throwaway certificate (EC P-256) for every TLS server; echo cells
# with the TLS load client, then bulk transfer over one connection.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$out/tls-key.pem" -out "$out/tls-cert.pem" 2>/dev/null
tls_cert=(--cert "$out/tls-cert.pem" --key "$out/tls-key.pem")
tls_cells=("c1_64B 1 64 1" "c16_1KiB 16 1024 1" "c16_16KiB 16 16384 1")
tls_servers=()
for b in "${backends[@]}"; do
  tls_servers+=("coio-tls-$b bench_echo_coio --backend $b --mode protocol ${tls_cert[*]}"
    "coio-tls-streams-$b bench_echo_coio --backend $b --mode streams ${tls_cert[*]}")
done
[ -x "$bindir/bench_echo_asio_tls" ] && tls_servers+=("asio-tls bench_echo_asio_tls ${tls_cert[*]}")
for s in "${tls_servers[@]}"; do
  set -- $s
  impl=$1
  start_server "$@"
  log "TLS echo: $impl (port $port)"
  for c in "${tls_cells[@]}"; do
    set -- $c
    "$bindir/bench_echo_client" --port $port --conns "$2" --size "$3" --inflight "$4" --tls 1 \
      "${echo_args[@]}" --server-pid $spid --cpu $client_cpu --impl "$impl" --cell "$1" |
      sed 's/^RESULT echo /RESULT tlsecho /' | tee -a "$results" || echo "TLS echo: $impl $1 failed" >&2
  done
  stop_server
done
# Python asyncio's TLS server (a script, so not started by start_server).
rm -f "$out/asyncio-tls.port"
python3 "$root/tests/bench/echo_asyncio_tls.py" --port 0 --port-file "$out/asyncio-tls.port" \
  --cpu $server_cpu "${tls_cert[@]}" &
spid=$!
for _ in $(seq 100); do [ -s "$out/asyncio-tls.port" ] && break; sleep 0.05; done
port=$(cat "$out/asyncio-tls.port" 2>/dev/null || echo 0)
log "TLS echo: asyncio-tls (port $port)"
for c in "${tls_cells[@]}"; do
  set -- $c
  "$bindir/bench_echo_client" --port $port --conns "$2" --size "$3" --inflight "$4" --tls 1 \
    "${echo_args[@]}" --server-pid $spid --cpu $client_cpu --impl asyncio-tls --cell "$1" |
    sed 's/^RESULT echo /RESULT tlsecho /' | tee -a "$results" || echo "TLS echo: asyncio $1 failed" >&2
done
stop_server
tls_bytes=$([ $quick = 1 ] && echo $((256 << 20)) || echo $((1 << 30)))
for impl in raw "${backends[@]/#/coio-}"; do
  log "TLS bulk: $impl"
  "$bindir/bench_tls_bulk" --impl "$impl" "${tls_cert[@]}" --bytes $tls_bytes \
    --repeat "$([ $quick = 1 ] && echo 1 || echo 3)" --server-cpu $server_cpu --client-cpu $client_cpu |
    tee -a "$results" || echo "TLS bulk: $impl failed" >&2
done

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
log "report"
python3 "$root/tests/bench/report.py" "$results" "$out/bench.md" "$out/bench.json" \
  "machine=$(nproc)-core $(uname -m)" "kernel=$(uname -r)" "cpu=$cpu_model" \
  "date=$(date -u +%Y-%m-%d)" "command=ci/bench.sh$([ $quick = 1 ] && echo ' --quick')" \
  "mode=$([ $quick = 1 ] && echo quick || echo full)" \
  "load average before/after=$load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\nwritten: %s %s\n' "$out/bench.md" "$out/bench.json"

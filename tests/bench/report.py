#!/usr/bin/env python3
"""tests/bench/report.py RESULTS MD JSON [key=value...]: turns the RESULT lines
the benchmark programs printed (see bench_util.h) into a Markdown table and a
JSON file, with coio's ratio to libuv and to the raw limit of the same kind
(epoll for the selector, io_uring for the proactor) per cell, and of coio's
streams and sock_* servers to its protocol API. A figure printed more than
once (the scale cells: one line per run) is the median of its lines."""
import json
import statistics
import sys

COIO = ["coio-epoll", "coio-io_uring"]
RAW = {"coio-epoll": "raw-epoll", "coio-io_uring": "raw-io_uring"}
LOOP_ORDER = [
    ("coro_switch_round_trip", "ns_per_round_trip"),
    ("call_soon", "ns_per_callback"),
    ("timers_random_0_50ms", "ns_per_timer"),
    ("timers_random_0_50ms", "bytes_per_timer"),
    ("timers_random_0_50ms", "peak_rss_MiB"),
    ("future_create_resolve_callback", "ns_per_future"),
    ("call_soon_threadsafe_pingpong", "wakeups_per_s"),
    ("task_sleep0_round_trip", "ns_per_round_trip"),
    ("task_spawn_join_pooled", "ns_per_task"),
    ("tasks_idle_10k", "bytes_per_task"),
    ("tasks_idle_10k", "ns_per_task"),
    ("tasks_concurrent_100k", "ns_per_task"),
    ("tasks_concurrent_100k", "peak_rss_MiB"),
]
ECHO_CELLS = ["c1_64B", "c16_1KiB", "c64_1KiB", "c16_16KiB", "c16_64B_pipelined8"]
ECHO_METRICS = [
    ("server_cpu_us_per_rt", "server CPU per round trip (µs, lower is better)"),
    ("round_trips_per_s", "round trips per second (higher is better)"),
    ("p50_us", "p50 latency (µs)"),
    ("p99_us", "p99 latency (µs)"),
]
ECHO_IMPLS = ["coio-epoll", "coio-streams-epoll", "coio-sock-epoll", "coio-io_uring",
              "coio-streams-io_uring", "coio-sock-io_uring", "libuv", "asio", "libevent",
              "raw-epoll", "raw-io_uring"]
# (numerator, denominator) of the ratio rows of the echo tables.
ECHO_RATIOS = [("coio-epoll", "libuv"), ("coio-io_uring", "libuv"),
               ("coio-epoll", "raw-epoll"), ("coio-io_uring", "raw-io_uring"),
               ("coio-io_uring", "raw-epoll"),
               ("coio-streams-epoll", "coio-epoll"), ("coio-streams-io_uring", "coio-io_uring"),
               ("coio-sock-epoll", "coio-epoll"), ("coio-sock-io_uring", "coio-io_uring"),
               ("coio-epoll", "asio"), ("coio-epoll", "libevent")]
SCALE = [("connect_burst_10k", "ms", "burst of 10,000 connects, each accepted and echoing "
          "one byte (ms)"),
         ("idle_conns_10k", "bytes_per_conn", "server RSS per idle connection, 10,000 open "
          "(bytes)")]

PROC = [("spawn_wait", "spawns_per_s", "spawn + wait (spawns/s, higher is better)"),
        ("pipe_read_64KiB", "GB_per_s", "child stdout read (GB/s, higher is better)")]
PROC_IMPLS = ["coio-epoll", "coio-streams-epoll", "coio-io_uring", "coio-streams-io_uring",
              "libuv", "raw-posix_spawn", "raw-pipe", "raw-socketpair"]
PROC_RATIOS = [("coio-epoll", "libuv"), ("coio-io_uring", "libuv"),
               ("coio-streams-epoll", "libuv"), ("coio-epoll", "raw-posix_spawn"),
               ("coio-io_uring", "raw-posix_spawn"), ("coio-epoll", "raw-socketpair"),
               ("coio-io_uring", "raw-socketpair")]

TLS_CELLS = ["c1_64B", "c16_1KiB", "c16_16KiB"]
TLS_IMPLS = ["coio-tls-epoll", "coio-tls-streams-epoll", "coio-tls-io_uring",
             "coio-tls-streams-io_uring", "asio-tls", "asyncio-tls"]
TLS_RATIOS = [("coio-tls-epoll", "coio-epoll"), ("coio-tls-io_uring", "coio-io_uring"),
              ("coio-tls-epoll", "asio-tls"), ("coio-tls-epoll", "asyncio-tls"),
              ("coio-tls-io_uring", "asio-tls"),
              ("coio-tls-streams-epoll", "coio-tls-epoll")]


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    if a >= 100000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def main():
    src, md_path, json_path = sys.argv[1:4]
    meta = dict(kv.split("=", 1) for kv in sys.argv[4:])
    runs = {}
    for line in open(src, encoding="utf-8"):
        p = line.split()
        if len(p) != 6 or p[0] != "RESULT":
            continue
        _, group, cell, impl, metric, value = p
        runs.setdefault((group, cell, impl, metric), []).append(float(value))
    res = {k: statistics.median(v) for k, v in runs.items()}
    rows = [{"group": g, "cell": c, "impl": i, "metric": m, "value": v,
             "runs": runs[(g, c, i, m)]} for (g, c, i, m), v in res.items()]
    get = lambda g, c, i, m: res.get((g, c, i, m))
    ratios = []
    out = []
    out.append("# coio benchmarks\n")
    for k in ("machine", "kernel", "cpu", "date", "command", "mode",
              "load average before/after"):
        if k in meta:
            out.append(f"- {k}: {meta[k]}")
    out.append("- ratios are coio ÷ peer: below 1 is better for times, CPU and memory; "
               "above 1 is better for throughput (round trips/s, wake-ups/s)\n")
    out.append("## Loop and tasks (median of the repeats)\n")
    out.append("| benchmark | metric | coio epoll | coio io_uring | libuv | "
               "coio epoll ÷ libuv | coio io_uring ÷ libuv |")
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for cell, metric in LOOP_ORDER:
        vals = [get("loop", cell, i, metric) for i in COIO + ["libuv"]]
        if all(v is None for v in vals):
            continue
        rs = [ratio(vals[0], vals[2]), ratio(vals[1], vals[2])]
        for i, r in zip(COIO, rs):
            if r is not None:
                ratios.append({"group": "loop", "cell": cell, "metric": metric, "impl": i,
                               "vs": "libuv", "ratio": r})
        out.append(f"| {cell} | {metric} | " + " | ".join(fmt(v) for v in vals) + " | "
                   + " | ".join(fmt_ratio(r) for r in rs) + " |")
    out.append("\nlibuv has no call_soon, futures or tasks: those cells compare nothing (n/a).\n")
    out.append("## Echo ping-pong over loopback TCP (single-threaded servers; "
               "server and client pinned to different cores)\n")
    out.append("Cells: cN_S = N connections, S-byte messages, one in flight each; "
               "c16_64B_pipelined8 = 16 connections with 8 messages in flight each.\n")
    cells = [c for c in ECHO_CELLS if any(get("echo", c, i, m) is not None
                                          for i in ECHO_IMPLS for m, _ in ECHO_METRICS)]
    impls = [i for i in ECHO_IMPLS if any(get("echo", c, i, m) is not None
                                          for c in cells for m, _ in ECHO_METRICS)]
    for metric, title in ECHO_METRICS:
        out.append(f"### {title}\n")
        out.append("| server | " + " | ".join(cells) + " |")
        out.append("|---|" + "---:|" * len(cells))
        for i in impls:
            out.append(f"| {i} | " + " | ".join(fmt(get("echo", c, i, metric)) for c in cells)
                       + " |")
        if metric in ("server_cpu_us_per_rt", "round_trips_per_s"):
            for a, b in ECHO_RATIOS:
                rs = [ratio(get("echo", c, a, metric), get("echo", c, b, metric)) for c in cells]
                if all(r is None for r in rs):
                    continue
                for c, r in zip(cells, rs):
                    if r is not None:
                        ratios.append({"group": "echo", "cell": c, "metric": metric,
                                       "impl": a, "vs": b, "ratio": r})
                out.append(f"| *{a} ÷ {b}* | " + " | ".join(fmt_ratio(r) for r in rs) + " |")
        out.append("")
    scale_impls = [i for i in ECHO_IMPLS if any(get("scale", c, i, m) is not None
                                                for c, m, _ in SCALE)]
    if scale_impls:
        out.append("## Scale (a fresh server per run; median of the runs)\n")
        out.append("| server | " + " | ".join(t for _, _, t in SCALE) + " |")
        out.append("|---|" + "---:|" * len(SCALE))
        for i in scale_impls:
            out.append(f"| {i} | " + " | ".join(fmt(get("scale", c, i, m)) for c, m, _ in SCALE)
                       + " |")
            for c, m, _ in SCALE:
                for peer in ("libuv", RAW.get(i)):
                    r = ratio(get("scale", c, i, m), get("scale", c, peer, m))
                    if i in COIO and r is not None:
                        ratios.append({"group": "scale", "cell": c, "metric": m, "impl": i,
                                       "vs": peer, "ratio": r})
        out.append("\nRSS per connection counts the server process's memory only: the "
                   "kernel's socket buffers are not in it.\n")
    proc_impls = [i for i in PROC_IMPLS if any(get("proc", c, i, m) is not None
                                               for c, m, _ in PROC)]
    if proc_impls:
        out.append("## Subprocesses\n")
        out.append("spawn_wait: /bin/true spawned and waited for, one at a time. pipe_read: "
                   "a child writes its stdout from the other core, the parent reads it in "
                   "64 KiB reads (coio: the protocol API; coio-streams: the Process API's "
                   "stream reader).\n")
        out.append("| implementation | " + " | ".join(t for _, _, t in PROC) + " |")
        out.append("|---|" + "---:|" * len(PROC))
        for i in proc_impls:
            out.append(f"| {i} | " + " | ".join(fmt(get("proc", c, i, m)) for c, m, _ in PROC)
                       + " |")
        for a, b in PROC_RATIOS:
            rs = [ratio(get("proc", c, a, m), get("proc", c, b, m)) for c, m, _ in PROC]
            if all(r is None for r in rs):
                continue
            for (c, m, _), r in zip(PROC, rs):
                if r is not None:
                    ratios.append({"group": "proc", "cell": c, "metric": m, "impl": a,
                                   "vs": b, "ratio": r})
            out.append(f"| *{a} ÷ {b}* | " + " | ".join(fmt_ratio(r) for r in rs) + " |")
        out.append("\nraw-posix_spawn has no pipe cell and the raw pipe/socketpair readers "
                   "no spawn cell; their ratios use the raw figure of the same column "
                   "(raw-socketpair is what coio's Linux layer uses).\n")
    tls_cells = [c for c in TLS_CELLS if any(get("tlsecho", c, i, "server_cpu_us_per_rt")
                                             is not None for i in TLS_IMPLS)]
    if tls_cells:
        out.append("## TLS\n")
        out.append("Echo with a TLS load client (OpenSSL, TLS 1.3), the server's CPU per "
                   "round trip in µs (lower is better); the plain rows are the same servers' "
                   "figures from the echo table above (same loop, no TLS).\n")
        out.append("| server | " + " | ".join(tls_cells) + " |")
        out.append("|---|" + "---:|" * len(tls_cells))
        m = "server_cpu_us_per_rt"
        tget = lambda c, i: (get("tlsecho", c, i, m) if i in TLS_IMPLS
                             else get("echo", c, i, m))
        for i in TLS_IMPLS + ["coio-epoll", "coio-io_uring"]:
            if any(tget(c, i) is not None for c in tls_cells):
                out.append(f"| {i} | " + " | ".join(fmt(tget(c, i)) for c in tls_cells) + " |")
        for a, b in TLS_RATIOS:
            rs = [ratio(tget(c, a), tget(c, b)) for c in tls_cells]
            if all(r is None for r in rs):
                continue
            for c, r in zip(tls_cells, rs):
                if r is not None:
                    ratios.append({"group": "tlsecho", "cell": c, "metric": m, "impl": a,
                                   "vs": b, "ratio": r})
            out.append(f"| *{a} ÷ {b}* | " + " | ".join(fmt_ratio(r) for r in rs) + " |")
        out.append("")
    bulk = [(i, get("tls", "bulk_1conn", i, "GB_per_s"))
            for i in ["raw", "coio-epoll", "coio-io_uring"]]
    if any(v is not None for _, v in bulk):
        raw = get("tls", "bulk_1conn", "raw", "GB_per_s")
        out.append("TLS bulk transfer, one connection, TLS_AES_128_GCM_SHA256, 64 KiB writes; "
                   "the same blocking OpenSSL client for every server (GB/s, higher is "
                   "better):\n")
        out.append("| server | GB/s | ÷ raw OpenSSL |")
        out.append("|---|---:|---:|")
        for i, v in bulk:
            r = ratio(v, raw) if i != "raw" else None
            if r is not None:
                ratios.append({"group": "tls", "cell": "bulk_1conn", "metric": "GB_per_s",
                               "impl": i, "vs": "raw", "ratio": r})
            out.append(f"| {i} | {fmt(v)} | {fmt_ratio(r)} |")
        out.append("")
    md = "\n".join(out) + "\n"
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(md)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "results": rows, "ratios": ratios}, f, indent=1)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()

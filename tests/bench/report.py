#!/usr/bin/env python3
"""tests/bench/report.py RESULTS MD JSON [key=value...]: turns the RESULT lines
the benchmark programs printed (see bench_util.h) into a Markdown table and a
JSON file, with coio's ratio to libuv and to the raw limit of the same kind
(epoll for the selector, io_uring for the proactor) per cell."""
import json
import sys

COIO = ["coio-epoll", "coio-io_uring"]
RAW = {"coio-epoll": "raw-epoll", "coio-io_uring": "raw-io_uring"}
LOOP_ORDER = [
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
ECHO_IMPLS = ["coio-epoll", "coio-io_uring", "libuv", "raw-epoll", "raw-io_uring"]


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
    res = {}
    rows = []
    for line in open(src, encoding="utf-8"):
        p = line.split()
        if len(p) != 6 or p[0] != "RESULT":
            continue
        _, group, cell, impl, metric, value = p
        res[(group, cell, impl, metric)] = float(value)
        rows.append({"group": group, "cell": cell, "impl": impl, "metric": metric,
                     "value": float(value)})
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
    for metric, title in ECHO_METRICS:
        out.append(f"### {title}\n")
        out.append("| cell | " + " | ".join(i.replace("-", " ") for i in ECHO_IMPLS)
                   + " | coio epoll ÷ libuv | coio io_uring ÷ libuv | coio epoll ÷ raw epoll"
                   " | coio io_uring ÷ raw io_uring |")
        out.append("|---|" + "---:|" * (len(ECHO_IMPLS) + 4))
        for cell in ECHO_CELLS:
            vals = {i: get("echo", cell, i, metric) for i in ECHO_IMPLS}
            if all(v is None for v in vals.values()):
                continue
            rs = []
            for vs in ("libuv", "raw"):
                for i in COIO:
                    peer = "libuv" if vs == "libuv" else RAW[i]
                    r = ratio(vals[i], vals[peer])
                    rs.append(r)
                    if r is not None:
                        ratios.append({"group": "echo", "cell": cell, "metric": metric,
                                       "impl": i, "vs": peer, "ratio": r})
            out.append(f"| {cell} | " + " | ".join(fmt(vals[i]) for i in ECHO_IMPLS) + " | "
                       + " | ".join(fmt_ratio(r) for r in rs) + " |")
        out.append("")
    out.append("Not measured yet (issue 6): Boost.Asio and libevent peers, coio's streams "
               "and sock_* servers, the raw stack switch, the scale cells (10,000 idle "
               "connections, connect bursts).")
    md = "\n".join(out) + "\n"
    with open(md_path, "w", encoding="utf-8") as f:
        f.write(md)
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump({"meta": meta, "results": rows, "ratios": ratios}, f, indent=1)
    sys.stdout.write(md)


if __name__ == "__main__":
    main()

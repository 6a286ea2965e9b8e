#!/usr/bin/env python3
"""ci/junit_summary.py CONFIG JUNIT.xml: one line per backend of a CTest
JUnit report: "CONFIG/BACKEND: N passed, N failed, N skipped". A test's
backend is the last part of its name (loop/epoll -> epoll); tests without
one (error, headers_cxx) are counted under "plain"."""
import sys
import xml.etree.ElementTree as ET

config, path = sys.argv[1], sys.argv[2]
known = {"epoll", "io_uring", "iocp"}
counts = {}
failed_names = []
for case in ET.parse(path).getroot().iter("testcase"):
    name = case.get("name", "")
    backend = name.rsplit("/", 1)[-1] if "/" in name else "plain"
    if backend not in known:
        backend = "plain"
    c = counts.setdefault(backend, [0, 0, 0])
    status = case.get("status", "")
    if case.find("skipped") is not None or status in ("notrun", "skipped"):
        c[2] += 1
    elif case.find("failure") is not None or case.find("error") is not None or status == "fail":
        c[1] += 1
        failed_names.append(name)
    else:
        c[0] += 1
if not counts:
    print(f"{config}: ran no test")
    sys.exit(1)
for backend in sorted(counts, key=lambda b: (b == "plain", b)):
    p, f, s = counts[backend]
    print(f"{config}/{backend}: {p} passed, {f} failed, {s} skipped")
for n in failed_names:
    print(f"{config}: FAILED {n}")

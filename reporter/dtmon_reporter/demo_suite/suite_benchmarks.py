"""Small benchmarks (run with type=benchmark): each checks its result and prints its speed."""

import hashlib
import json
import re
import time


def _timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return result, best


def test_sort_200k_integers():
    values = [(i * 7919) % 200_003 for i in range(200_000)]
    result, seconds = _timed(lambda: sorted(values))
    print(f"sorted 200k ints in {seconds * 1000:.1f} ms")
    assert all(a <= b for a, b in zip(result, result[1:]))


def test_sha256_16_mib():
    payload = bytes(range(256)) * (16 * 4096)
    digest, seconds = _timed(lambda: hashlib.sha256(payload).hexdigest())
    print(f"sha256 of 16 MiB in {seconds * 1000:.1f} ms ({16 / seconds:.0f} MiB/s)")
    assert len(digest) == 64


def test_json_encode_decode_20k_records():
    records = [{"id": i, "name": f"worker-{i:05d}", "cpu": i % 100, "tags": ["cpu", "cuda"]} for i in range(20_000)]
    decoded, seconds = _timed(lambda: json.loads(json.dumps(records)))
    print(f"json round trip of 20k records in {seconds * 1000:.1f} ms")
    assert decoded == records


def test_regex_scan_log_lines():
    lines = "\n".join(f"2026-11-29T08:{i % 60:02d}:00Z worker-{i % 50} took {i % 997} ms" for i in range(50_000))
    matches, seconds = _timed(lambda: re.findall(r"took (\d+) ms", lines))
    print(f"scanned 50k log lines in {seconds * 1000:.1f} ms")
    assert len(matches) == 50_000

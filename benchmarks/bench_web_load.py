"""Load test of the web API: 50 concurrent clients hit ``GET /api/analyze`` for 10 s on loopback.
Run by hand:

    python benchmarks/bench_web_load.py                 # starts `llm-roofline serve` on a free port
    python benchmarks/bench_web_load.py --workers 4     # ... with 4 server processes
    python benchmarks/bench_web_load.py --url http://127.0.0.1:8000/   # an already running server

Two request mixes, each for the whole duration: ``distinct`` (every request a different scenario of
Llama-2-7B on an A6000: batch size, prompt and generation lengths vary, so the server's response
cache never hits and every request is a full analysis) and ``repeat`` (one scenario: served from the
cache, the way a page re-asks for a state it has seen). Target: no errors, p95 < 50 ms.

The clients are plain HTTP/1.1 keep-alive connections on asyncio streams, spread over a few client
processes so that the load generator does not share one Python interpreter with 50 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode, urlsplit

MODEL, DEVICE = "meta-llama/Llama-2-7b-hf", "nvidia_A6000"


def query(mix: str, client: int, i: int) -> str:
    params = {"model": MODEL, "hardware": DEVICE, "gen_len": 128}
    if mix == "distinct":  # a fresh scenario for every request of every client
        n = client * 1_000_003 + i
        params.update(batch_size=1 + n % 512, prompt_len=128 + (n // 512) % 8064, gen_len=1 + (n // 7) % 4096)
    return "/api/analyze?" + urlencode(params)


async def _client(host: str, port: int, mix: str, client: int, deadline: float, out: list, errors: list) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            path = query(mix, client, i)
            i += 1
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode())
            await writer.drain()
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            elapsed = time.perf_counter() - start
            status = int(status_line.split()[1]) if status_line else 0
            if status != 200 or not body.startswith(b'{"model"'):
                errors.append(f"{status} {body[:120]!r}")
            out.append(elapsed)
    finally:
        writer.close()


def _process(host: str, port: int, mix: str, clients: range, duration: float, queue) -> None:
    async def main():
        out: list[float] = []
        errors: list[str] = []
        deadline = time.perf_counter() + duration
        await asyncio.gather(*(_client(host, port, mix, c, deadline, out, errors) for c in clients))
        return out, errors

    queue.put(asyncio.run(main()))


def run_load(url: str, mix: str, clients: int, duration: float, processes: int) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    queue = mp.Queue()
    chunks = [range(k, clients, processes) for k in range(processes)]
    procs = [mp.Process(target=_process, args=(host, port, mix, chunk, duration, queue)) for chunk in chunks]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    latencies = sorted(x for r, _ in results for x in r)
    errors = [e for _, es in results for e in es]
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"mix": mix, "clients": clients, "requests": len(latencies), "errors": len(errors),
            "first_error": errors[0] if errors else None, "requests_per_s": len(latencies) / wall,
            "p50_ms": 1e3 * q[49], "p95_ms": 1e3 * q[94], "p99_ms": 1e3 * q[98], "max_ms": 1e3 * latencies[-1]}


def start_server(workers: int) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "llm_roofline.cli", "serve", "--port", "0", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    match = re.search(r"http://[^\s]+/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    url = match.group(0)
    import urllib.request

    for _ in range(100):  # wait until every worker answers
        try:
            urllib.request.urlopen(url + "api/meta", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.5 if workers > 1 else 0.0)
    return proc, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an already running server (default: start one)")
    parser.add_argument("--workers", type=int, default=2, help="server processes when starting one (default 2)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per mix (default 10)")
    parser.add_argument("--processes", type=int, default=5, help="client processes (default 5)")
    parser.add_argument("--mix", choices=["distinct", "repeat", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    proc, url = (None, args.url) if args.url else start_server(args.workers)
    try:
        mixes = ["distinct", "repeat"] if args.mix == "both" else [args.mix]
        results = [run_load(url, mix, args.clients, args.duration, args.processes) for mix in mixes]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"server {url} ({'external' if args.url else f'{args.workers} worker(s)'}), {args.clients} clients, "
              f"{args.duration:g} s per mix, {os.cpu_count()} CPUs")
        for r in results:
            print(f"  {r['mix']:<9} {r['requests']:>7} requests  {r['requests_per_s']:8.0f}/s  errors {r['errors']}  "
                  f"p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  "
                  f"max {r['max_ms']:6.1f} ms")
            if r["first_error"]:
                print(f"    first error: {r['first_error']}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

"""Load test of the web API on loopback: concurrent keep-alive clients, latency percentiles.
Run by hand:

    python benchmarks/bench_web_load.py                 # starts `llm-roofline serve` on a free port
    python benchmarks/bench_web_load.py --workers 4     # ... with 4 server processes
    python benchmarks/bench_web_load.py --url http://127.0.0.1:8000/   # an already running server
    python benchmarks/bench_web_load.py --mix heavy     # sweeps flooding the server, one page's latency

Mixes, each for the whole duration:

- ``distinct``: 50 clients, every request ``GET /api/analyze`` of a different scenario of Llama-2-7B
  on an A6000 (batch size, prompt and generation lengths vary), so the response cache never hits
  and every request is a full analysis. Target: no errors, p95 < 50 ms (see docs/web.md for the
  machine this holds on).
- ``repeat``: 50 clients, one scenario: served from the cache, as when the page returns to a state.
- ``heavy``: 32 clients each posting maximum sweeps (4,096 points, a new grid every time) while 8
  clients make distinct analyses. The sweeps run in the bounded heavy lane (extra ones get 503 with
  Retry-After, counted apart, not as errors); the figure is the analyses' p95, which stays near
  that of an idle server instead of queueing behind the sweeps.

Pinning (``--pin auto``, the default, where ``os.sched_setaffinity`` exists and there are 2 CPUs or
more): the server (all its worker processes) runs on the first CPUs, the load generator on the last
quarter (at least one), so that the two do not compete for a core and the figure measures the
server. ``--pin off`` lets them share every CPU. The clients are plain HTTP/1.1 keep-alive
connections on asyncio streams, spread over a few client processes.
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
MIXES = {  # role -> number of clients
    "distinct": {"analyze": 50},
    "repeat": {"repeat": 50},
    "heavy": {"sweep": 32, "analyze": 8},
}


def request(role: str, client: int, i: int) -> tuple[str, str, bytes]:
    """(method, path, body) of request ``i`` of ``client`` in ``role``."""
    n = client * 1_000_003 + i
    if role == "sweep":  # a new 64 x 64 grid every time: never a cache hit
        body = {"model": MODEL, "hardware": DEVICE, "gen_len": 1 + n % 4096,
                "batch_size": [1 + (n + k) % 1000 for k in range(64)], "prompt_len": [128 + k for k in range(64)]}
        return "POST", "/api/sweep", json.dumps(body).encode()
    params = {"model": MODEL, "hardware": DEVICE, "gen_len": 128}
    if role == "analyze":  # a fresh scenario for every request of every client
        params.update(batch_size=1 + n % 512, prompt_len=128 + (n // 512) % 8064, gen_len=1 + (n // 7) % 4096)
    return "GET", "/api/analyze?" + urlencode(params), b""


async def _client(host: str, port: int, role: str, client: int, deadline: float, out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = 0
    try:
        while time.perf_counter() < deadline:
            method, path, body = request(role, client, i)
            i += 1
            start = time.perf_counter()
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
            if body:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            writer.write(head.encode() + b"\r\n" + body)
            await writer.drain()
            status_line = await reader.readline()
            length, retry_after = 0, None
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
                elif name.strip().lower() == "retry-after":
                    retry_after = float(value)
            data = await reader.readexactly(length)
            elapsed = time.perf_counter() - start
            status = int(status_line.split()[1]) if status_line else 0
            if status == 503 and retry_after is not None:  # refused by a full pool, as designed
                out["busy"].append(elapsed)
                await asyncio.sleep(min(retry_after, 0.5))
                continue
            if status != 200 or not data.startswith(b"{"):
                out["errors"].append(f"{role}: {status} {data[:120]!r}")
            out["latency"].setdefault(role, []).append(elapsed)
    finally:
        writer.close()


def _process(host: str, port: int, roles: list[tuple[str, int]], duration: float, cpus, queue) -> None:
    if cpus:
        os.sched_setaffinity(0, cpus)

    async def main():
        out = {"latency": {}, "errors": [], "busy": []}
        deadline = time.perf_counter() + duration
        await asyncio.gather(*(_client(host, port, role, c, deadline, out) for role, c in roles))
        return out

    queue.put(asyncio.run(main()))


def _percentiles(values: list[float]) -> dict:
    values = sorted(values)
    if not values:
        return {"requests": 0}
    q = statistics.quantiles(values, n=100) if len(values) > 1 else [values[0]] * 99
    return {"requests": len(values), "p50_ms": 1e3 * q[49], "p95_ms": 1e3 * q[94], "p99_ms": 1e3 * q[98],
            "max_ms": 1e3 * values[-1]}


def run_load(url: str, mix: str, duration: float, processes: int, cpus=None, clients: int | None = None) -> dict:
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    counts = dict(MIXES[mix])
    if clients and len(counts) == 1:  # --clients sets the size of the one-role mixes
        counts = {role: clients for role in counts}
    roles = [(role, c) for role, n in counts.items() for c in range(n)]
    queue = mp.Queue()
    chunks = [roles[k::processes] for k in range(processes) if roles[k::processes]]
    procs = [mp.Process(target=_process, args=(host, port, chunk, duration, cpus, queue)) for chunk in chunks]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    wall = time.perf_counter() - started
    by_role: dict[str, list[float]] = {}
    for r in results:
        for role, values in r["latency"].items():
            by_role.setdefault(role, []).extend(values)
    errors = [e for r in results for e in r["errors"]]
    busy = sum(len(r["busy"]) for r in results)
    return {"mix": mix, "clients": len(roles), "errors": len(errors), "first_error": errors[0] if errors else None,
            "busy_503": busy, "requests_per_s": sum(len(v) for v in by_role.values()) / wall,
            "roles": {role: _percentiles(values) for role, values in by_role.items()}}


def split_cpus(pin: str) -> tuple[set[int] | None, set[int] | None]:
    """(server CPUs, client CPUs): the last quarter of the CPUs (at least one) for the clients."""
    if pin == "off" or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    k = max(1, len(cpus) // 4)
    return set(cpus[:-k]), set(cpus[-k:])


def start_server(workers: int, cpus: set[int] | None) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "llm_roofline.cli", "serve", "--port", "0", "--workers", str(workers)]
    # The server's CPUs are set before it starts (as `taskset -c` would); its workers inherit them.
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=pin)
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
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes when starting one (default: one per server CPU when pinned, else 2)")
    parser.add_argument("--clients", type=int, default=None, help="clients of the distinct / repeat mixes (50)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per mix (default 10)")
    parser.add_argument("--processes", type=int, default=5, help="client processes (default 5)")
    parser.add_argument("--mix", choices=[*MIXES, "both", "all"], default="both",
                        help="both: distinct and repeat (default); all: every mix")
    parser.add_argument("--pin", choices=["auto", "off"], default="auto",
                        help="auto: server and load generator on separate CPUs where there are 2 or more")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    server_cpus, client_cpus = split_cpus(args.pin)
    workers = args.workers or (len(server_cpus) if server_cpus else 2)
    proc, url = (None, args.url) if args.url else start_server(workers, server_cpus)
    try:
        mixes = {"both": ["distinct", "repeat"], "all": list(MIXES)}.get(args.mix, [args.mix])
        results = [run_load(url, mix, args.duration, args.processes, client_cpus, args.clients) for mix in mixes]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        pinning = (f"server on CPUs {sorted(server_cpus)}, clients on {sorted(client_cpus)}" if server_cpus
                   else "server and clients share every CPU")
        print(f"server {url} ({'external' if args.url else f'{workers} worker(s)'}), {args.duration:g} s per mix, "
              f"{os.cpu_count()} CPUs; {pinning}; load average {os.getloadavg()[0]:.2f}")
        for r in results:
            print(f"  {r['mix']:<9} {r['clients']:>3} clients  {r['requests_per_s']:8.0f} requests/s  "
                  f"errors {r['errors']}  503 (busy) {r['busy_503']}")
            for role, p in r["roles"].items():
                if p["requests"]:
                    print(f"    {role:<8} {p['requests']:>7} requests  p50 {p['p50_ms']:6.1f} ms  "
                          f"p95 {p['p95_ms']:6.1f} ms  p99 {p['p99_ms']:6.1f} ms  max {p['max_ms']:6.1f} ms")
            if r["first_error"]:
                print(f"    first error: {r['first_error']}")
    return 1 if any(r["errors"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

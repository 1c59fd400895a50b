"""The web server's defences, over real sockets on 127.0.0.1: the Host check (DNS rebinding), the
head / body / keep-alive / send deadlines (idle and half-open connections), the bounded worker
pools (503 with Retry-After when full) and the response cache bounded in bytes.

Every test is bounded in time: deadlines are set to fractions of a second, and blocked jobs wait
on events the test releases."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from llm_roofline.web import service  # noqa: E402
from llm_roofline.web.cache import BoundedCache  # noqa: E402
from llm_roofline.web.guard import Guard  # noqa: E402
from llm_roofline.web.pool import Busy, WorkPool  # noqa: E402
from llm_roofline.web.server import serve_in_thread  # noqa: E402
from llm_roofline.web.settings import ServerSettings, host_allowed, hosts_for  # noqa: E402

BASE = {"model": "llama-2-7b", "hardware": "a6000"}
QUICK = ServerSettings(head_timeout_s=0.4, body_timeout_s=0.4, keep_alive_s=1, send_timeout_s=0.4)


@pytest.fixture(scope="module")
def quick_url():
    with serve_in_thread(settings=QUICK) as url:
        yield url


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


def closed_within(sock: socket.socket, seconds: float) -> float:
    """Seconds until the server closes ``sock`` (reading and discarding what it sends); fails after
    ``seconds``."""
    sock.settimeout(seconds)
    start = time.monotonic()
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        pytest.fail(f"the server kept the connection open for more than {seconds} s")
    except ConnectionResetError:
        pass
    return time.monotonic() - start


# --- Host header (DNS rebinding) --------------------------------------------------------------------

@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("localhost", True), ("[::1]:8000", True),
    ("LOCALHOST.:80", True), ("evil.example:8000", False), ("127.0.0.1.evil.example", False),
    ("localhost.evil.example:8000", False), ("10.0.0.1:8000", False), ("", False), ("[::1", False),
])
def test_host_allowed_on_loopback(host, ok):
    assert host_allowed(host, hosts_for("127.0.0.1")) is ok


def test_hosts_for_wildcard_and_named_binds():
    wildcard = hosts_for("0.0.0.0")
    assert host_allowed("192.168.1.7:8000", wildcard) and host_allowed("[fe80::1]:8000", wildcard)
    assert not host_allowed("evil.example:8000", wildcard)  # a name needs DNS, which can be rebound
    named = hosts_for("0.0.0.0", ("gpu-box.lan",))
    assert host_allowed("gpu-box.lan:8000", named) and not host_allowed("other.lan", named)
    bound = hosts_for("192.168.1.7")
    assert host_allowed("192.168.1.7", bound) and not host_allowed("10.1.1.1", bound)


def test_foreign_host_header_is_refused(quick_url):
    with httpx.Client(base_url=quick_url, timeout=10) as c:
        refused = c.get("/api/meta", headers={"host": "attacker.example:8000"})
        assert refused.status_code == 400 and refused.json()["field"] == "host"
        assert "attacker.example" in refused.json()["detail"]
        assert c.post("/api/analyze", json=BASE, headers={"host": "attacker.example"}).status_code == 400
        assert c.get("/", headers={"host": "attacker.example"}).status_code == 400
        _, port = address(quick_url)
        assert c.get("/api/meta", headers={"host": f"localhost:{port}"}).status_code == 200
        assert c.get("/api/meta").status_code == 200  # httpx sends 127.0.0.1:PORT


# --- deadlines: idle, slow and half-open connections ---------------------------------------------------

def test_connection_that_sends_nothing_is_closed(quick_url):
    with socket.create_connection(address(quick_url)) as sock:
        assert closed_within(sock, 5) < 3


def test_request_head_sent_byte_by_byte_is_cut_off(quick_url):
    with socket.create_connection(address(quick_url)) as sock:
        sock.sendall(b"GET /api/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        start = time.monotonic()
        with pytest.raises(OSError):  # the server closes while the client is still trickling headers
            for i in range(100):
                sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
                time.sleep(0.1)
        assert time.monotonic() - start < 5


def test_stalled_body_gets_408_and_the_connection_closes(quick_url):
    with socket.create_connection(address(quick_url)) as sock:
        sock.sendall(b"POST /api/analyze HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
                     b"content-length: 200\r\n\r\n{\"model\": ")
        sock.settimeout(5)
        head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 408"), head[:100]
        assert b"request body" in head or b"request body" in sock.recv(65536)
        closed_within(sock, 5)


def test_idle_keep_alive_connection_is_closed(quick_url):
    with socket.create_connection(address(quick_url)) as sock:
        sock.sendall(b"GET /api/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert closed_within(sock, 5) < 3  # keep_alive_s = 1


def test_client_that_does_not_read_its_response_is_dropped():
    """The send deadline, on the middleware itself: a ``send`` that never completes (a client whose
    receive window is full) ends the request instead of holding it for ever."""
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * 10})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = []

    async def stuck_send(message):
        sent.append(message["type"])
        if message["type"] == "http.response.body":
            await asyncio.Event().wait()  # never

    guard = Guard(app, limit=100, settings=ServerSettings(send_timeout_s=0.2))
    scope = {"type": "http", "path": "/api/x", "headers": [(b"host", b"127.0.0.1")]}
    start = time.monotonic()
    asyncio.run(asyncio.wait_for(guard(scope, receive, stuck_send), 5))
    assert time.monotonic() - start < 2 and sent == ["http.response.start", "http.response.body"]


def test_listening_socket_probes_dead_peers():
    from llm_roofline.web.protocol import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        if hasattr(socket, "TCP_KEEPIDLE"):
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) <= 60
    finally:
        sock.close()


# --- worker pools: bounded concurrency, bounded queue, queue timeout ---------------------------------------

def test_pool_runs_at_most_threads_jobs_and_refuses_beyond_its_queue():
    async def main():
        pool = WorkPool("test", threads=2, queue=3, queue_timeout_s=5)
        gate = threading.Event()
        lock = threading.Lock()
        now = {"running": 0, "max": 0}

        def job():
            with lock:
                now["running"] += 1
                now["max"] = max(now["max"], now["running"])
            gate.wait(5)
            with lock:
                now["running"] -= 1
            return 1

        tasks = [asyncio.ensure_future(pool.run(job)) for _ in range(5)]  # 2 run, 3 wait
        await asyncio.sleep(0.2)
        assert (pool.running, pool.waiting) == (2, 3)
        with pytest.raises(Busy):  # the queue is full
            await pool.run(job)
        gate.set()
        assert await asyncio.gather(*tasks) == [1] * 5
        assert now["max"] == 2 and (pool.running, pool.waiting) == (0, 0)
        pool.close()

    asyncio.run(asyncio.wait_for(main(), 20))


def test_pool_queue_timeout():
    async def main():
        pool = WorkPool("test", threads=1, queue=5, queue_timeout_s=0.2, retry_after_s=3)
        gate = threading.Event()
        first = asyncio.ensure_future(pool.run(lambda: gate.wait(5)))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        with pytest.raises(Busy) as info:
            await pool.run(lambda: None)
        assert 0.15 < time.monotonic() - start < 2 and info.value.retry_after_s == 3
        gate.set()
        assert await first is True
        pool.close()

    asyncio.run(asyncio.wait_for(main(), 20))


@pytest.fixture
def blocked_sweeps(monkeypatch):
    """Sweeps that wait for the test's gate (the engine is not called)."""
    gate = threading.Event()
    started = threading.Semaphore(0)

    def slow_sweep(req):
        started.release()
        gate.wait(10)
        return {"points": 1, "capacity_bytes": 1.0, "columns": {"batch_size": [req.batch_size]}}

    monkeypatch.setattr(service, "sweep_result", slow_sweep)
    yield gate, started
    gate.set()


def test_full_heavy_lane_answers_503_with_retry_after_and_light_requests_still_flow(blocked_sweeps):
    gate, started = blocked_sweeps
    settings = ServerSettings(heavy_threads=1, heavy_queue=1, queue_timeout_s=30, retry_after_s=2)
    with serve_in_thread(settings=settings) as url, ThreadPoolExecutor(4) as ex, \
            httpx.Client(base_url=url, timeout=20) as c:
        post = lambda b: c.post("/api/sweep", json={**BASE, "batch_size": b})  # noqa: E731
        running = ex.submit(post, 1)
        assert started.acquire(timeout=10)  # the one worker thread is busy
        queued = ex.submit(post, 2)
        for _ in range(100):  # wait until the second sweep is queued
            if c.get("/api/status").json()["pools"]["heavy"]["waiting"] == 1:
                break
            time.sleep(0.02)
        refused = post(3)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "2" and "busy" in refused.json()["detail"]
        # The light lane is not blocked by the heavy one: an analysis is answered now.
        analysis = c.post("/api/analyze", json={**BASE, "batch_size": 7})
        assert analysis.status_code == 200 and analysis.json()["scenario"]["batch_size"] == 7
        gate.set()
        assert running.result(timeout=20).status_code == 200 and queued.result(timeout=20).status_code == 200


def test_queue_timeout_answers_503(blocked_sweeps):
    gate, started = blocked_sweeps
    settings = ServerSettings(heavy_threads=1, heavy_queue=4, queue_timeout_s=0.3)
    with serve_in_thread(settings=settings) as url, ThreadPoolExecutor(2) as ex, \
            httpx.Client(base_url=url, timeout=20) as c:
        running = ex.submit(c.post, "/api/sweep", json={**BASE, "batch_size": 1})
        assert started.acquire(timeout=10)
        start = time.monotonic()
        late = c.post("/api/sweep", json={**BASE, "batch_size": 2})
        assert late.status_code == 503 and "retry-after" in late.headers
        assert 0.25 < time.monotonic() - start < 5
        gate.set()
        assert running.result(timeout=20).status_code == 200


# --- the response cache is bounded in bytes -----------------------------------------------------------------

def test_bounded_cache_keeps_recent_entries_within_its_budget():
    cache = BoundedCache(1000)
    for i in range(50):
        cache.put(i, "x" * 90)
        assert cache.size <= 1000 and cache.size == 90 * len(cache)
    assert len(cache) == 11 and cache.get(49) is not None and cache.get(0) is None
    cache.get(39)  # recently used: kept when the next entry evicts the oldest
    cache.put("new", "y" * 90)
    assert cache.get(39) is not None and cache.get(40) is None
    cache.put("huge", "z" * 400)  # over a quarter of the budget: not kept, evicts nothing
    assert cache.get("huge") is None and len(cache) == 11
    cache.put(49, "w" * 10)  # replacing an entry frees its old size
    assert cache.size == 90 * 10 + 10


def test_server_cache_stays_within_its_byte_budget():
    budget = 300_000  # a Llama-2-7B report is ~20 KB, a view ~60 KB
    with serve_in_thread(settings=ServerSettings(cache_bytes=budget)) as url, \
            httpx.Client(base_url=url, timeout=30) as c:
        for b in range(1, 31):
            assert c.post("/api/view", json={**BASE, "batch_size": b}).status_code == 200
        cache = c.get("/api/status").json()["cache"]
        assert 0 < cache["bytes"] <= budget and cache["max_bytes"] == budget
        # what is cached is answered again, byte for byte
        again = c.post("/api/analyze", json={**BASE, "batch_size": 30})
        assert again.status_code == 200 and json.loads(again.text)["scenario"]["batch_size"] == 30

"""Load test of `genforge serve` on loopback: a real uvicorn process serving two small trained runs (a GAN
and a VAE on the digits), `--clients` concurrent clients sending `--requests` requests of a fixed mix
(generate PNG and JSON, interpolate, traverse, reconstruct an upload, models, runs, metrics), repeated.

    python -m genforge.bench.serve [--requests 500] [--clients 8] [--repeats 3]

Prints per round: errors (any answer but 200, or no answer), latency p50 / p99 / max, requests per second
and the server's resident memory after the round; then min / median / max over the rounds.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..run import resolve_config
from ..train import Trainer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def train_runs(root: Path) -> list[Path]:
    runs = []
    for family in ("dcgan", "vae"):
        cfg = resolve_config(family, sets=["train.steps=20", "model.width=0.5", "train.batch_size=32"])
        Trainer(cfg, root / family, progress=False, log=lambda s: None).fit()
        runs.append(root / family)
    return runs


def request_mix(upload: bytes) -> list[tuple[str, str, dict]]:
    """(method, path, httpx keyword arguments): what a page and a script ask for."""
    return [
        ("GET", "/api/dcgan/generate", {"params": {"n": 16, "seed": 3}}),
        ("GET", "/api/vae/generate", {"params": {"n": 4, "format": "json"}}),
        ("GET", "/api/vae/interpolate", {"params": {"steps": 8}}),
        ("GET", "/api/vae/traverse", {"params": {"dim": 1}}),
        ("POST", "/api/vae/reconstruct", {"content": upload}),
        ("GET", "/api/models", {}),
        ("GET", "/api/runs", {}),
        ("GET", "/api/dcgan/metrics", {"params": {"since": 0}}),
    ]


def one_round(base: str, n: int, clients: int, mix) -> dict:
    # deferred: the test extra's HTTP client, only for this benchmark
    import httpx

    def worker(k: int) -> list[tuple[float, int]]:
        out = []
        with httpx.Client(base_url=base, timeout=60) as c:
            for i in range(k, n, clients):
                method, path, kw = mix[i % len(mix)]
                t0 = time.perf_counter()
                try:
                    code = c.request(method, path, **kw).status_code
                except httpx.HTTPError:
                    code = 0
                out.append((time.perf_counter() - t0, code))
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for part in pool.map(worker, range(clients)) for r in part]
    wall = time.perf_counter() - t0
    lat = np.array([t for t, _ in results]) * 1000
    return {
        "requests": len(results),
        "errors": sum(code != 200 for _, code in results),
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "per_s": len(results) / wall,
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        runs = train_runs(Path(tmp))
        port = free_port()
        cmd = [sys.executable, "-m", "genforge", "serve", *map(str, runs), "--port", str(port)]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        try:
            base = f"http://127.0.0.1:{port}"
            # deferred: the test extra's HTTP client, only for this benchmark
            import httpx

            for _ in range(600):  # up to a minute to start
                try:
                    if httpx.get(base + "/api/runs", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            buf = io.BytesIO()
            Image.fromarray((np.random.default_rng(0).random((8, 8)) * 255).astype(np.uint8)).save(buf, "PNG")
            mix = request_mix(buf.getvalue())
            one_round(base, len(mix) * 2, 2, mix)  # warm-up: models loaded, caches filled
            before = rss_mb(server.pid)
            rounds = []
            for r in range(args.repeats):
                rounds.append(one_round(base, args.requests, args.clients, mix) | {"rss_mb": rss_mb(server.pid)})
                print(f"round {r + 1}: " + json.dumps({k: round(v, 1) for k, v in rounds[-1].items()}), flush=True)
        finally:
            server.terminate()
            server.wait()
    print(f"\nserver memory after warm-up: {before:.0f} MiB\n")
    print("| figure | min | median | max |\n|---|---|---|---|")
    for key in ("requests", "errors", "p50_ms", "p99_ms", "max_ms", "per_s", "rss_mb"):
        v = [r[key] for r in rounds]
        print(f"| {key} | {min(v):.1f} | {statistics.median(v):.1f} | {max(v):.1f} |")


if __name__ == "__main__":
    main()

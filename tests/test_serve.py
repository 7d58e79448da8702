import base64
import contextlib
import io
import json
import os
import shutil
import socket
import threading
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from genforge.serve import create_app
from genforge.train import Trainer

from .conftest import tiny_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, digits):
    out = {}
    for fam in ("dcgan", "vae"):
        d = tmp_path_factory.mktemp("serve") / f"{fam}-run"
        Trainer(tiny_config(fam, "train.steps=5"), d, data=digits, progress=False, log=lambda s: None).fit()
        out[fam] = d
    return out


@pytest.fixture(scope="module")
def client(runs):
    return TestClient(create_app([runs["dcgan"], runs["vae"]]))


def png(resp) -> Image.Image:
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(resp.content))


def test_models_and_page(client):
    ms = client.get("/api/models").json()
    assert (
        set(ms) == {"dcgan-run", "vae-run"}
        and ms["vae-run"]["latent_dim"] == 16
        and ms["dcgan-run"]["shape"] == [1, 8, 8]
    )
    page = client.get("/")
    assert page.status_code == 200 and 'id="generate"' in page.text and "http" not in page.text.split("<script>")[1]
    assert client.get("/docs").status_code == 200


def test_generate_png_and_json_are_seeded(client):
    def pixels(seed: int) -> np.ndarray:  # each answer's signed manifest is its own: compare the pictures
        return np.asarray(png(client.get("/api/dcgan-run/generate", params={"n": 4, "seed": seed})))

    a = pixels(3)
    assert a.shape[1] > 8
    assert np.array_equal(a, pixels(3)) and not np.array_equal(a, pixels(4))
    js = client.get("/api/vae-run/generate", params={"n": 3, "format": "json"}).json()
    assert len(js["images"]) == 3 and Image.open(io.BytesIO(base64.b64decode(js["images"][0]))).size == (8, 8)


def test_answers_are_signed_guarded_and_verified_by_the_server(client):

    a = client.get("/api/dcgan-run/generate", params={"n": 4, "seed": 3})
    assert json.loads(a.headers["X-Genforge-Guards"])["guards"] == ["copies", "screen"]
    v = client.post("/api/verify", params={"filename": "answer.png"}, content=a.content).json()
    assert v["manifest"] == "valid" and v["manifest_run"].endswith("dcgan-run") and v["recognised"]
    assert client.post("/api/verify", params={"filename": "x.exe"}, content=b"1").status_code == 422
    plain = io.BytesIO()
    png(a).save(plain, format="PNG")  # the picture alone, without its manifest
    v = client.post("/api/verify", params={"filename": "plain.png"}, content=plain.getvalue()).json()
    assert v["manifest"] == "none" and v["recognised"] and v["runs"][0].endswith("dcgan-run")


def test_interpolate_and_traverse(client):
    frames = client.get("/api/dcgan-run/interpolate", params={"steps": 5, "format": "json"}).json()["images"]
    one = client.get("/api/dcgan-run/interpolate", params={"t": 0.0, "format": "json"}).json()["images"]
    assert len(frames) == 5 and one[0] == frames[0]
    png(client.get("/api/vae-run/traverse", params={"dim": 2, "steps": 5}))


def test_reconstruct_upload(client):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (20, 20), dtype=np.uint8)).save(buf, format="PNG")
    out = png(client.post("/api/vae-run/reconstruct", content=buf.getvalue()))
    assert out.size[0] > out.size[1]  # input and reconstruction side by side


@pytest.mark.parametrize(
    "method,url,kw,code,text",
    [
        ("get", "/api/nope/generate", {}, 404, "no model named 'nope'"),
        ("get", "/api/dcgan-run/generate", {"params": {"n": 100000}}, 422, "less than or equal to 256"),
        ("get", "/api/dcgan-run/generate", {"params": {"seed": -1}}, 422, "greater than or equal to 0"),
        ("get", "/api/dcgan-run/interpolate", {"params": {"steps": 1000}}, 422, "32"),
        ("get", "/api/dcgan-run/traverse", {}, 400, "needs a VAE"),
        ("get", "/api/dcgan-run/animate", {"params": {"fps": 5e-324}}, 422, "greater than or equal to 0.1"),
        ("get", "/api/vae-run/traverse", {"params": {"dim": 199}}, 422, "below the latent size 16"),
        ("post", "/api/vae-run/reconstruct", {"content": b"not an image"}, 400, "not a readable image"),
        ("post", "/api/vae-run/reconstruct", {"content": b""}, 400, "empty body"),
        ("post", "/api/vae-run/reconstruct", {"content": b"x" * (4 * 1024 * 1024 + 1)}, 413, "limit"),
        ("get", "/api/..%2F..%2Fetc/generate", {}, 404, "Not Found"),  # never reaches a file
    ],
)
def test_bad_requests_get_4xx_with_a_message(client, method, url, kw, code, text):
    r = getattr(client, method)(url, **kw)
    assert r.status_code == code and text in r.text, r.text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def browser_on(app):
    """(page, base URL): the app served by uvicorn in a thread on a free loopback port, and a page of
    Debian's Chromium driven by Playwright (which never downloads a browser); both closed afterwards."""
    import uvicorn
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            try:
                yield browser.new_page(), f"http://127.0.0.1:{port}/"
            finally:
                browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.integration
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_browser_generates_an_image_and_opens_the_report(runs, tmp_path, monkeypatch):
    from genforge.report import write_report

    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    report = write_report(runs["vae"])
    with browser_on(create_app([runs["dcgan"], runs["vae"]])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('grid')?.src.startsWith('blob:')")  # the widget makes it
        first = page.get_attribute("#grid", "src")
        page.fill("#seed", "7")
        page.click("#generate")
        page.wait_for_function(f"document.getElementById('grid').src !== '{first}'")
        assert page.evaluate("document.getElementById('grid').naturalWidth") > 0
        page.click("#an_go")  # the image widget's animation panel: a looping walk as an animated GIF
        page.wait_for_function("document.getElementById('an_img')?.naturalWidth > 0")
        page.goto(report.as_uri())
        for section in ("scenario", "training", "samples", "quality", "latent"):
            assert page.locator(f"#{section}").count() == 1, section


@pytest.mark.integration
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_browser_shows_text_for_a_text_model(text_data, text_folder, tmp_path):
    run = tmp_path / "tvae-run"
    cfg = tiny_config("text-vae", "train.steps=30", source=str(text_folder))
    Trainer(cfg, run, data=text_data, progress=False, log=lambda s: None).fit()
    with browser_on(create_app([run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#texts li').length === 16")
        assert page.is_hidden("#grid") and page.is_visible("#betweenbox")
        first = page.inner_text("#texts")
        page.fill("#seed", "9")
        page.click("#generate")
        page.wait_for_function(f"document.getElementById('texts').innerText !== {first!r}")
        page.click("#between")
        page.wait_for_function("document.querySelectorAll('#path li').length === 7")


@pytest.mark.integration
@pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (apt-get install chromium)"
)
def test_the_page_verifies_an_uploaded_file(runs, client, tmp_path):
    answer = client.get("/api/dcgan-run/generate", params={"n": 2, "seed": 9})
    (tmp_path / "mine.png").write_bytes(answer.content)
    with browser_on(create_app([runs["dcgan"], runs["vae"]])) as (page, url):
        page.goto(url)
        page.set_input_files("#verify_file", str(tmp_path / "mine.png"))
        page.wait_for_function("document.getElementById('verify_out').textContent.includes('generation log')")
        line = page.text_content("#verify_out")
    assert "mine.png: signed by genforge" in line and "dcgan-run" in line

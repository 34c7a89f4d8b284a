"""Runtime hook of the packaged app: PySide6's OpenGL modules (9 MB) are left out of the bundle.

pyqtgraph imports QtOpenGL and QtOpenGLWidgets as it loads, but draws with them only when its `useOpenGL`
option is on, which ModelScout never turns on. Stand-ins take their place so that pyqtgraph loads; using
anything in them raises an ImportError that says what is missing, instead of a crash.
"""

import sys
import types

MISSING = "OpenGL drawing is not part of the packaged ModelScout (pyqtgraph's useOpenGL must stay off)"


class _LeftOut(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "QOpenGLWidget":  # pyqtgraph subclasses it at import: a widget that cannot be made
            from PySide6.QtWidgets import QWidget

            class QOpenGLWidget(QWidget):
                def __init__(self, *args, **kwargs):
                    raise ImportError(f"QOpenGLWidget: {MISSING}")

            setattr(self, name, QOpenGLWidget)
            return QOpenGLWidget
        raise ImportError(f"{self.__name__}.{name}: {MISSING}")


for _name in ("PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"):
    sys.modules.setdefault(_name, _LeftOut(_name, MISSING))

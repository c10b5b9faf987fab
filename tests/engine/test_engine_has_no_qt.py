"""The engine must stay usable without Qt: importing every engine module loads no PySide6/pyqtgraph."""
import subprocess
import sys
from pathlib import Path

import nnlab.engine


def test_engine_imports_no_qt():
    root = Path(nnlab.engine.__file__).parent
    mods = sorted("nnlab.engine." + ".".join(p.relative_to(root).with_suffix("").parts)
                  for p in root.rglob("*.py") if p.name != "__init__.py")
    assert "nnlab.engine.model.scene" in mods and "nnlab.engine.model.network" in mods
    code = ("import importlib, sys\n"
            f"for m in {mods!r}: importlib.import_module(m)\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""

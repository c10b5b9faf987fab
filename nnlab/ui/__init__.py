"""The desktop app (PySide6 + pyqtgraph): windows, panels and views over the Qt-free model of nnlab.app."""

"""The desktop app (PySide6 + pyqtgraph): windows, panels, views, the worker-thread adapter."""

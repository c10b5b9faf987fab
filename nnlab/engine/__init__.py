"""The Qt-free engine: scenes, networks, training, surfaces, optimizers, export plans.

Nothing under this package imports Qt or pyqtgraph; the UI listens to it.
"""

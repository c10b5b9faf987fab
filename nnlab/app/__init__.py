"""The application's state and operations, Qt-free: what is on screen (scene, network, view settings, optimizer
results) as evented models that the Qt views in nnlab.ui listen to, the job factories the app runs, and the worker
processes ("hosts") that run them. Importing it loads no Qt (a test checks it)."""

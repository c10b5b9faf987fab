"""nnlab's bundled presets, studies, icons and styles (installed as the package data nnlab._resources)."""

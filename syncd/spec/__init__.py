"""The spec layer: what teams commit, as frozen models, and how it is loaded, checked and rendered."""

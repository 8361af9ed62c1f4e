"""Data for demos and tests: the procedural cardiac phantom and the bundled samples."""

"""``python -m blaze_lab`` = the ``blaze-lab`` command (useful where the console script is not installed)."""

from blaze_lab.cli import app

app()

"""blaze_lab.explorer — the JupyterLab explorer's parts; the public entry point is :mod:`blaze_lab.widgets`.

* :mod:`~blaze_lab.explorer.kinds` — per engine kind: config class, panel fields, metrics, runner (registry);
* :mod:`~blaze_lab.explorer.session` — :class:`ExplorerSession`, the panel's logic without widgets.
"""

from blaze_lab.explorer.kinds import KINDS, KindInfo
from blaze_lab.explorer.session import DEFAULT_MEASURE, ExplorerSession

__all__ = ["DEFAULT_MEASURE", "KINDS", "ExplorerSession", "KindInfo"]

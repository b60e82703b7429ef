"""blaze_lab.explorer — the JupyterLab explorer's parts; the public entry point is :mod:`blaze_lab.widgets`.

* :mod:`~blaze_lab.explorer.panels` — per engine kind: config class, panel fields, metrics, runner (each kind's
  ``explorer`` entry in :mod:`blaze_lab.kinds` names its panel);
* :mod:`~blaze_lab.explorer.session` — :class:`ExplorerSession`, the panel's logic without widgets.
"""

from blaze_lab.explorer.panels import Panel, panels
from blaze_lab.explorer.session import DEFAULT_MEASURE, ExplorerSession

__all__ = ["DEFAULT_MEASURE", "ExplorerSession", "Panel", "panels"]

"""Hydra search-path plugin: adds the config folders that r1 plugins offer.

Hydra discovers this module in the ``hydra_plugins`` namespace package. It asks
r1's plugin manager for ``r1_config_dir`` folders, so that ``reward=my_reward``
composes after ``pip install my-plugin`` with no edit to r1. It only acts on
r1's own config (other Hydra apps in the same environment are left alone).

Every installed plugin's folder is added, blocked ones too (the search path is
fixed before ``plugins.blocked`` is read), and a plugin file named like one of
r1's own is an error rather than silently shadowed (:func:`r1.plugins.config_dirs`).
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class R1PluginsSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        from r1.paths import conf_dir

        ours = str(conf_dir())
        if not any(ours in (element.path or "") for element in search_path.get_path()):
            return
        from r1.plugins import config_dirs

        for folder in config_dirs():
            search_path.append(provider="r1-plugin", path=f"file://{folder}")

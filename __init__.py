"""NCGLF2 hyperspectral + LiDAR land-cover classification for QGIS."""


def classFactory(iface):  # noqa: N802 - name fixed by QGIS
    """QGIS entry point: create the plugin instance."""
    from .ncglf2_qgis.plugin import NCGLF2Plugin

    return NCGLF2Plugin(iface)

"""The plugin object QGIS creates through ``classFactory``."""
from qgis.core import QgsApplication

from .provider import NCGLF2Provider


class NCGLF2Plugin:
    """Registers the Processing provider; GUI entries are added in ``initGui``."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: NCGLF2Provider | None = None

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        if self.provider is None:
            self.provider = NCGLF2Provider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        self.initProcessing()

    def unload(self) -> None:
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None

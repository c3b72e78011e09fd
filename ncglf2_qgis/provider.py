"""The ``ncglf2`` Processing provider."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core.version import __version__
from .algorithms import all_algorithms
from .resources import resource_path

PROVIDER_ID = "ncglf2"


class NCGLF2Provider(QgsProcessingProvider):
    """Train, classify, assess and import-reference algorithms."""

    def id(self) -> str:  # noqa: A003 - QGIS API
        return PROVIDER_ID

    def name(self) -> str:
        return self.tr("NCGLF2 HSI + LiDAR fusion")

    def longName(self) -> str:  # noqa: N802
        return self.tr("NCGLF2 HSI + LiDAR fusion {}").format(__version__)

    def icon(self) -> QIcon:
        return QIcon(resource_path("icon.png"))

    def versionInfo(self) -> str:  # noqa: N802
        return __version__

    def supportedOutputRasterLayerExtensions(self) -> list[str]:  # noqa: N802
        return ["tif", "tiff"]  # the engine writes GeoTIFFs

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in all_algorithms():
            self.addAlgorithm(algorithm)

"""The ``ncglf2`` Processing provider."""

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from ..core.engine.interpreter import AUTOMATIC
from ..core.version import __version__
from .algorithms import all_algorithms
from .engine import ENGINE_PYTHON, KEEP_ENGINE, TORCH_INDEX
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

    def _settings(self) -> list:
        """The provider's entries in Settings > Options > Processing > Providers (none under qgis_process)."""
        try:
            from processing.core.ProcessingConfig import Setting
        except ImportError:
            return []
        return [
            Setting(
                self.name(),
                ENGINE_PYTHON,
                self.tr("Engine Python: a Python with torch and safetensors ('automatic': the installed engine)"),
                AUTOMATIC,
                valuetype=Setting.FILE,
            ),
            Setting(
                self.name(),
                TORCH_INDEX,
                self.tr(
                    "PyTorch wheel index for the engine installation (empty: download.pytorch.org; 'pip': pip's own)"
                ),
                "",
            ),
            Setting(self.name(), KEEP_ENGINE, self.tr("Keep the engine process running between jobs"), True),
        ]

    def load(self) -> bool:
        settings = self._settings()
        if settings:
            from processing.core.ProcessingConfig import ProcessingConfig

            ProcessingConfig.settingIcons[self.name()] = self.icon()
            for entry in settings:
                ProcessingConfig.addSetting(entry)
            ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        for name in (ENGINE_PYTHON, TORCH_INDEX, KEEP_ENGINE):
            ProcessingConfig.removeSetting(name)

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in all_algorithms():
            self.addAlgorithm(algorithm)

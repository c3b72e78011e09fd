"""The plugin object QGIS creates through ``classFactory``.

Loading the plugin costs nothing heavy: the dialog module is imported when
the menu entry is first used, and torch only when an algorithm runs.
"""

from pathlib import Path

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .provider import NCGLF2Provider
from .resources import TRANSLATIONS, resource_path

MENU = "&NCGLF2"


def install_translator(language: str | None = None, folder: Path = TRANSLATIONS) -> QTranslator | None:
    """Load ``ncglf2_<language>.qm`` (QGIS's interface language by default) when one is shipped."""
    if language is None:
        locale = QgsSettings().value("locale/userLocale", "") or QLocale().name()
        language = str(locale)[:2]
    path = Path(folder) / f"ncglf2_{language}.qm"
    translator = QTranslator()
    if not path.is_file() or not translator.load(str(path)):
        return None
    QCoreApplication.installTranslator(translator)
    return translator


class NCGLF2Plugin:
    """Registers the Processing provider, a Raster menu entry and a toolbar button."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: NCGLF2Provider | None = None
        self.action: QAction | None = None
        self.dialog = None
        self.translator = install_translator()

    @staticmethod
    def tr(text: str) -> str:
        return QCoreApplication.translate("NCGLF2", text)

    def initProcessing(self) -> None:  # noqa: N802 - QGIS API
        if self.provider is None:
            provider = NCGLF2Provider()
            # The registry refuses (and deletes) a second provider with the same id.
            if QgsApplication.processingRegistry().addProvider(provider):
                self.provider = provider

    def initGui(self) -> None:  # noqa: N802 - QGIS API
        self.initProcessing()
        self.action = QAction(
            QIcon(resource_path("icon.png")), self.tr("NCGLF2 HSI + LiDAR fusion…"), self.iface.mainWindow()
        )
        self.action.setObjectName("ncglf2OpenDialog")
        self.action.setToolTip(self.tr("Train NCGLF2 on hyperspectral + LiDAR rasters and classify them"))
        self.action.triggered.connect(self.show_dialog)
        self.iface.addPluginToRasterMenu(MENU, self.action)
        self.iface.addToolBarIcon(self.action)

    def show_dialog(self):
        """Open the dialog (created on first use) and bring it to the front."""
        if self.dialog is None:
            from .dialog import NCGLF2Dialog

            self.dialog = NCGLF2Dialog(self.iface, parent=self.iface.mainWindow())
        else:
            self.dialog.check_engine()
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
        return self.dialog

    def unload(self) -> None:
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.iface.removeToolBarIcon(self.action)
            self.action.triggered.disconnect(self.show_dialog)
            self.action.deleteLater()
            self.action = None
        if self.dialog is not None:
            self.dialog.shutdown()
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None

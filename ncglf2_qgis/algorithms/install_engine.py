"""``ncglf2:installengine``: the managed engine environment (PyTorch), installed, repaired or removed from QGIS."""

from __future__ import annotations

import threading

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
)

from ...core.engine.install import install_engine, plan_install, uninstall_engine
from ...core.engine.interpreter import host_python, python_has_engine_packages
from ...core.errors import NCGLF2Error
from ..engine import TORCH_INDEX, FeedbackProgress, managed_engine_dir, qgis_proxy, setting
from .base import NCGLF2Algorithm

ACTIONS = ("install", "uninstall")
_one_at_a_time = threading.Lock()


class InstallEngineAlgorithm(NCGLF2Algorithm):
    ACTION = "ACTION"
    CPU_ONLY = "CPU_ONLY"
    PYTHON = "PYTHON"
    TORCH = "TORCH"
    DEVICE = "DEVICE"

    TAGS = "install,engine,pytorch,torch,setup,repair,gpu,cuda"

    SUMMARY = (
        "Installs the NCGLF2 engine: a separate Python environment in the QGIS profile folder with PyTorch "
        "and safetensors, which every NCGLF2 algorithm then runs in. QGIS's own Python is left untouched "
        "(its numpy and GDAL are shared, never upgraded). With an NVIDIA driver present the matching CUDA "
        "build of PyTorch is chosen, else the CPU build. Running it again repairs or upgrades the engine; "
        "'uninstall' removes it. The download is about 200 MB for the CPU build and 2-3 GB for CUDA."
    )

    def group(self) -> str:
        return self.tr("Engine")

    def groupId(self) -> str:  # noqa: N802
        return "engine"

    def name(self) -> str:
        return "installengine"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Install NCGLF2 engine")

    def flags(self):
        return super().flags() | self.FlagHideFromModeler  # setup, not a step of a model

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterEnum(
                self.ACTION,
                self.tr("Action"),
                options=[self.tr("Install or repair"), self.tr("Uninstall")],
                defaultValue=0,
            ),
            "Install (or repair, or upgrade) the engine environment, or remove it.",
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.CPU_ONLY, self.tr("CPU build even with an NVIDIA GPU"), defaultValue=False
            ),
            "Install the smaller CPU build of PyTorch although an NVIDIA driver is present.",
            advanced=True,
        )
        self.addOutput(QgsProcessingOutputString(self.PYTHON, self.tr("Engine Python")))
        self.addOutput(QgsProcessingOutputString(self.TORCH, self.tr("PyTorch version")))
        self.addOutput(QgsProcessingOutputString(self.DEVICE, self.tr("Device")))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        env_dir = managed_engine_dir()
        progress = FeedbackProgress(feedback)
        if not _one_at_a_time.acquire(blocking=False):
            raise QgsProcessingException(self.tr("the engine is being installed already; wait for that run to end"))
        try:
            if ACTIONS[self.parameterAsEnum(parameters, self.ACTION, context)] == "uninstall":
                uninstall_engine(env_dir, progress)
                return {self.PYTHON: "", self.TORCH: "", self.DEVICE: ""}
            base = host_python()
            if base is None:
                raise QgsProcessingException(
                    self.tr("the Python that QGIS runs cannot be found, so no environment can be made from it")
                )
            plan = plan_install(
                env_dir, base, setting(TORCH_INDEX), self.parameterAsBoolean(parameters, self.CPU_ONLY, context)
            )
            record = install_engine(plan, progress, proxy=qgis_proxy())
        except NCGLF2Error as error:
            raise QgsProcessingException(str(error)) from None
        finally:
            _one_at_a_time.release()
        python_has_engine_packages.cache_clear()
        feedback.pushInfo(self.tr("the NCGLF2 engine is ready: {}").format(record["python"]))
        return {self.PYTHON: record["python"], self.TORCH: record["torch"], self.DEVICE: record["device"]}

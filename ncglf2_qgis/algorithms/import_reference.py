"""``ncglf2:importreference``: a model file from the published implementation's checkpoint."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ...core.requests import ImportRequest
from .base import NCGLF2Algorithm
from .train import CLASS_CSV_FILTER, MODEL_FILTER, add_inputs


class ImportReferenceAlgorithm(NCGLF2Algorithm):
    CHECKPOINT = "CHECKPOINT"
    HSI = "HSI"
    LIDAR = "LIDAR"
    CLASSES = "CLASSES"
    PATCH_SIZE = "PATCH_SIZE"
    CLASS_CSV = "CLASS_CSV"
    OUTPUT_MODEL = "OUTPUT_MODEL"

    TAGS = "import,checkpoint,pretrained,reference,model"

    SUMMARY = (
        "Turns a checkpoint of the authors' published NCGLF2 code (a PyTorch .pth or .pth.tar file) into "
        "a model file that 'Classify with a model' uses. The checkpoint holds only the network; its "
        "preprocessing (40 whitened PCA components of the hyperspectral bands, standardized LiDAR) is "
        "fitted here on the image it was trained on, so give the same hyperspectral image and LiDAR "
        "rasters. The number of classes and the patch size must be those of the checkpoint."
    )

    def name(self) -> str:
        return "importreference"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Import the reference checkpoint")

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterFile(
                self.CHECKPOINT,
                self.tr("Reference checkpoint"),
                fileFilter="PyTorch checkpoint (*.pth *.tar *.pt);;All files (*)",
            ),
            "The checkpoint saved by the published implementation (e.g. best_model.pth.tar). Only the "
            "weights are read; no code in the file is run.",
        )
        add_inputs(self, self.HSI, self.LIDAR)
        self.add(
            QgsProcessingParameterNumber(
                self.CLASSES,
                self.tr("Number of classes"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=6,
                minValue=2,
                maxValue=1000,
            ),
            "How many classes the checkpoint was trained on (Trento: 6, Houston 2013: 15, MUUFL: 11).",
        )
        self.add(
            QgsProcessingParameterNumber(
                self.PATCH_SIZE,
                self.tr("Patch size (pixels, odd)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=11,
                minValue=3,
                maxValue=63,
            ),
            "The patch size the checkpoint was trained with (the published code uses 11).",
        )
        self.add(
            QgsProcessingParameterFile(
                self.CLASS_CSV, self.tr("Class names and colours (CSV)"), optional=True, fileFilter=CLASS_CSV_FILTER
            ),
            "A table with the columns id,name,color; without it the classes are called 'class 1', 'class 2', ...",
        )
        self.add(
            QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, self.tr("Model file"), fileFilter=MODEL_FILTER),
            "The model file (.ncglf2) to write.",
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        hsi = self.raster_path(self.parameterAsRasterLayer(parameters, self.HSI, context), "HSI")
        lidar = self.raster_paths(self.parameterAsLayerList(parameters, self.LIDAR, context), "LiDAR")
        out = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        request = self.checked(
            lambda: ImportRequest(
                checkpoint=self.parameterAsFile(parameters, self.CHECKPOINT, context),
                hsi=hsi,
                lidar=lidar,
                num_classes=self.parameterAsInt(parameters, self.CLASSES, context),
                out=out,
                patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context),
                class_csv=self.parameterAsFile(parameters, self.CLASS_CSV, context) or None,
                overwrite=True,  # Processing already asked before replacing a destination
            )
        )
        return {self.OUTPUT_MODEL: self.run_job(request, feedback)["model"]}

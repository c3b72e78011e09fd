"""``ncglf2:classify``: classify an HSI + LiDAR pair with a model file."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterExtent,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ...core.requests import DEFAULT_TILE_SIZE, OUTPUT_FORMATS, PRECISIONS, ClassifyRequest
from ..styling import confidence_when_loaded, result_layer_name, skip_empty_outputs, style_when_loaded, when_loaded
from .base import NCGLF2Algorithm
from .train import add_device, add_inputs


class ClassifyAlgorithm(NCGLF2Algorithm):
    MODEL = "MODEL"
    HSI = "HSI"
    LIDAR = "LIDAR"
    DEVICE = "DEVICE"
    EXTENT = "EXTENT"
    TILE_SIZE = "TILE_SIZE"
    BATCH_SIZE = "BATCH_SIZE"
    PRECISION = "PRECISION"
    TTA = "TTA"
    DASK = "DASK"
    OUTPUT = "OUTPUT"
    OUTPUT_CONFIDENCE = "OUTPUT_CONFIDENCE"
    OUTPUT_PROBABILITIES = "OUTPUT_PROBABILITIES"
    OUTPUT_MARGIN = "OUTPUT_MARGIN"
    OUTPUT_FORMAT = "OUTPUT_FORMAT"

    TAGS = "classify,classification,predict,inference,class map,map"

    SUMMARY = (
        "Classifies every pixel of a hyperspectral image and its LiDAR rasters with a trained NCGLF2 model "
        "(or an imported reference model). The rasters must have the band counts the model was trained "
        "on. The image is processed tile by tile, so rasters of any size fit in memory. The class map "
        "carries the model's class names and colours and is shown with them; pixels without data stay 0 "
        "(unclassified). Optionally writes the confidence of each pixel (the highest class probability), "
        "the margin between the two most likely classes and the probability of every class."
    )

    def name(self) -> str:
        return "classify"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Classify with a model")

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterFile(self.MODEL, self.tr("Model file"), extension="ncglf2"),
            "A model written by 'Train a model' or 'Import the reference checkpoint' (.ncglf2).",
        )
        add_inputs(self, self.HSI, self.LIDAR)
        add_device(self, self.DEVICE)
        self.add(
            QgsProcessingParameterExtent(self.EXTENT, self.tr("Classify only this extent"), optional=True),
            "Classify only the part of the image inside this extent (e.g. the map canvas); leave empty for "
            "the whole image. The outputs cover just that part.",
        )
        self.add(
            QgsProcessingParameterNumber(
                self.TILE_SIZE,
                self.tr("Tile size (pixels, 0 = automatic)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=0,
                minValue=0,
                maxValue=100000,
            ),
            "The side of the tiles the image is read and classified in; smaller tiles need less memory.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterNumber(
                self.BATCH_SIZE,
                self.tr("Batch size (0 = automatic)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=0,
                minValue=0,
                maxValue=1000000,
            ),
            "Patches the network classifies at once; automatic picks a value for the CPU or the GPU and "
            "halves it when a GPU runs out of memory.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.PRECISION,
                self.tr("Arithmetic precision"),
                options=[f"{PRECISIONS[0]} (exact)", f"{PRECISIONS[1]} (faster)"],
                defaultValue=0,
            ),
            "float32 reproduces the network exactly. bfloat16 is faster on CPUs with AVX512-BF16 and on recent "
            "GPUs; its labels agree with float32 on nearly every pixel.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterBoolean(
                self.TTA, self.tr("Average over rotations and mirrors (8 times slower)"), defaultValue=False
            ),
            "Test-time augmentation: classify every patch in its 4 rotations, each with and without a mirror, "
            "and average the 8 class probabilities, so that the map does not depend on which way a patch is turned; "
            "costs 8 times the network's work.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterString(
                self.DASK, self.tr("Dask cluster (local:N or tcp://host:port)"), optional=True
            ),
            "Classify the tiles on Dask distributed instead of in one process: local:N starts N worker processes on "
            "this computer; tcp://host:8786 uses the workers of a running Dask scheduler, which must read the same "
            'files under the same paths. Needs Dask in the engine\'s Python (pip install "dask[distributed]"). '
            "Leave empty to classify here.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterRasterDestination(self.OUTPUT, self.tr("Classification")),
            "The class map (GeoTIFF, one class id per pixel, 0 = unclassified) with the class names and colours.",
        )
        self.add(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT_CONFIDENCE, self.tr("Confidence"), optional=True, createByDefault=False
            ),
            "The probability of the chosen class for each pixel (0 to 1; -1 where there is no data). "
            "Low values show where the map is uncertain.",
        )
        self.add(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT_PROBABILITIES, self.tr("Class probabilities"), optional=True, createByDefault=False
            ),
            "One band per class with its probability for each pixel.",
        )
        self.add(
            QgsProcessingParameterRasterDestination(
                self.OUTPUT_MARGIN, self.tr("Margin"), optional=True, createByDefault=False
            ),
            "The highest class probability minus the second highest for each pixel (0 to 1; -1 where there is "
            "no data). Low values show where the model hesitates between two classes.",
        )
        self.add(
            QgsProcessingParameterEnum(
                self.OUTPUT_FORMAT,
                self.tr("Output format"),
                options=[self.tr("GeoTIFF"), self.tr("Cloud Optimized GeoTIFF (with overviews)")],
                defaultValue=0,
            ),
            "The format of every raster written. A Cloud Optimized GeoTIFF holds overviews (the most frequent "
            "class for the class map, the mean for the other rasters), so it shows quickly zoomed out and can be "
            "read in pieces from a web server or cloud storage; it is copied from the GeoTIFF once "
            "classification is done, which takes a little longer and twice the disk space meanwhile.",
            advanced=True,
        )

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        model = self.parameterAsFile(parameters, self.MODEL, context)
        hsi_layer = self.parameterAsRasterLayer(parameters, self.HSI, context)
        hsi = self.raster_path(hsi_layer, "HSI")
        lidar = self.raster_paths(self.parameterAsLayerList(parameters, self.LIDAR, context), "LiDAR")
        extent = None
        if parameters.get(self.EXTENT) is not None:
            rectangle = self.parameterAsExtent(parameters, self.EXTENT, context, hsi_layer.crs())
            if not rectangle.isNull():
                extent = (rectangle.xMinimum(), rectangle.yMinimum(), rectangle.xMaximum(), rectangle.yMaximum())
        out = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        confidence = self.parameterAsOutputLayer(parameters, self.OUTPUT_CONFIDENCE, context) or None
        probabilities = self.parameterAsOutputLayer(parameters, self.OUTPUT_PROBABILITIES, context) or None
        margin = self.parameterAsOutputLayer(parameters, self.OUTPUT_MARGIN, context) or None
        request = self.checked(
            lambda: ClassifyRequest(
                model=model,
                hsi=hsi,
                lidar=lidar,
                out=out,
                confidence=confidence,
                probabilities=probabilities,
                device=self.device(parameters, self.DEVICE, context),
                extent=extent,
                tile_size=self.optional_int(parameters, self.TILE_SIZE, context) or DEFAULT_TILE_SIZE,
                batch_size=self.optional_int(parameters, self.BATCH_SIZE, context),
                precision=PRECISIONS[self.parameterAsEnum(parameters, self.PRECISION, context)],
                format=OUTPUT_FORMATS[self.parameterAsEnum(parameters, self.OUTPUT_FORMAT, context)],
                margin=margin,
                tta=self.parameterAsBoolean(parameters, self.TTA, context),
                dask=self.parameterAsString(parameters, self.DASK, context).strip() or None,
                overwrite=True,  # Processing already asked before replacing a destination
            )
        )
        result = self.run_job(request, feedback)
        skip_empty_outputs(context)
        style_when_loaded(context, result["classes"], result_layer_name(result["classes"], model, "classes"))
        if result["confidence"]:
            confidence_when_loaded(
                context,
                result["confidence"],
                result["classes"],
                result_layer_name(result["confidence"], model, "confidence"),
            )
        if result["margin"]:
            confidence_when_loaded(
                context, result["margin"], result["classes"], result_layer_name(result["margin"], model, "margin")
            )
        if result["probabilities"]:
            when_loaded(
                context,
                result["probabilities"],
                result_layer_name(result["probabilities"], model, "class probabilities"),
            )
        return {
            self.OUTPUT: result["classes"],
            self.OUTPUT_CONFIDENCE: result["confidence"],
            self.OUTPUT_PROBABILITIES: result["probabilities"],
            self.OUTPUT_MARGIN: result["margin"],
        }

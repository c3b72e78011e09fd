"""``ncglf2:train``: train a model on labelled pixels."""

from __future__ import annotations

from qgis.core import (
    QgsProcessing,
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMapLayer,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

from ...core.requests import DEVICES, PROTOCOLS, VALIDATION_SPLITS, TrainingParameters, TrainRequest
from .base import NCGLF2Algorithm

MODEL_FILTER = "NCGLF2 model (*.ncglf2)"
PAPER = TrainingParameters()  # the published protocol: every default below
CLASS_CSV_FILTER = "Class table (*.csv)"
HTML_FILTER = "HTML report (*.html)"


def add_device(algorithm: NCGLF2Algorithm, name: str) -> None:
    algorithm.add(
        QgsProcessingParameterEnum(name, algorithm.tr("Device"), options=DEVICES, defaultValue=0),
        "Where the network runs: auto uses an NVIDIA GPU (CUDA) when torch sees one, else the CPU; "
        "cuda fails when no GPU is available.",
    )


# Vector labels and raster labels are two parameters: the class field's parent
# must only ever hold a vector layer (QGIS's field widget dereferences a raster
# parent as a vector layer and crashes).
LABEL_LAYER_TYPES = [QgsProcessing.TypeRaster, QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon]


def add_labels(
    algorithm: NCGLF2Algorithm,
    vector: str,
    raster: str,
    field: str,
    vector_text: tuple[str, str],
    raster_text: tuple[str, str],
    field_text: tuple[str, str],
) -> None:
    """A vector labels layer with its class field, and a class raster: one of the two is given."""
    algorithm.add(
        QgsProcessingParameterVectorLayer(
            vector,
            algorithm.tr(vector_text[0]),
            optional=True,
            types=[QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon],
        ),
        vector_text[1],
    )
    algorithm.add(
        QgsProcessingParameterField(field, algorithm.tr(field_text[0]), parentLayerParameterName=vector, optional=True),
        field_text[1],
    )
    algorithm.add(
        QgsProcessingParameterRasterLayer(raster, algorithm.tr(raster_text[0]), optional=True), raster_text[1]
    )


def add_inputs(algorithm: NCGLF2Algorithm, hsi: str, lidar: str) -> None:
    algorithm.add(
        QgsProcessingParameterRasterLayer(hsi, algorithm.tr("Hyperspectral image (HSI)")),
        "The hyperspectral raster, one band per wavelength. Its grid (extent, pixel size, CRS) is the grid "
        "of every output.",
    )
    algorithm.add(
        QgsProcessingParameterMultipleLayers(lidar, algorithm.tr("LiDAR rasters"), layerType=QgsProcessing.TypeRaster),
        "One or more LiDAR rasters (e.g. a DSM, nDSM or intensity). Rasters on another grid or CRS are "
        "resampled onto the HSI grid.",
    )


class TrainAlgorithm(NCGLF2Algorithm):
    HSI = "HSI"
    LIDAR = "LIDAR"
    LABELS = "LABELS"
    LABELS_RASTER = "LABELS_RASTER"
    CLASS_FIELD = "CLASS_FIELD"
    VALIDATION = "VALIDATION"
    CLASS_CSV = "CLASS_CSV"
    EPOCHS = "EPOCHS"
    SAMPLES_PER_CLASS = "SAMPLES_PER_CLASS"
    VALIDATION_FRACTION = "VALIDATION_FRACTION"
    VALIDATION_SPLIT = "VALIDATION_SPLIT"
    PROTOCOL = "PROTOCOL"
    BATCH_SIZE = "BATCH_SIZE"
    LEARNING_RATE = "LEARNING_RATE"
    PATCH_SIZE = "PATCH_SIZE"
    PCA_COMPONENTS = "PCA_COMPONENTS"
    SEED = "SEED"
    DEVICE = "DEVICE"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT_REPORT = "OUTPUT_REPORT"
    VALIDATION_OA = "VALIDATION_OA"
    VALIDATION_AA = "VALIDATION_AA"
    VALIDATION_KAPPA = "VALIDATION_KAPPA"

    LABEL_CHOICES = ((LABELS, LABELS_RASTER, "training labels"),)

    TAGS = "train,training,supervised,neural network,model"

    SUMMARY = (
        "Trains the NCGLF2 fusion network to recognise land-cover classes from a hyperspectral image and "
        "LiDAR rasters. The labelled pixels come from a class raster (class ids, 0 = unlabelled) or from "
        "points or polygons with a class field; labelled pixels where the HSI or a LiDAR band holds no data "
        "are left out, and the log says how many per class. A part of the samples is kept aside to validate the "
        "network after every epoch: by default whole polygons or regions, with no training pixel next to them, "
        "so that the validation accuracy is honest. The weights of the best epoch are saved in the model file, "
        "with the fitted PCA and the class names and colours. The optional report shows the training curves, "
        "the validation accuracy and how the validation was drawn, and warns when it says little."
    )

    def name(self) -> str:
        return "train"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Train a model")

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        add_inputs(self, self.HSI, self.LIDAR)
        add_labels(
            self,
            self.LABELS,
            self.LABELS_RASTER,
            self.CLASS_FIELD,
            (
                "Training labels (points or polygons)",
                "Points or polygons with a class field. Polygons label every pixel whose centre they contain. "
                "Give either these or a class raster.",
            ),
            (
                "Training labels (class raster)",
                "A raster of class ids (0 or nodata = unlabelled) on any grid; it is read onto the HSI grid. "
                "Give either this or points/polygons.",
            ),
            (
                "Class field",
                "The attribute that holds the class of each point or polygon: whole numbers above 0, or text "
                "(classes are then numbered in alphabetical order).",
            ),
        )
        self.add(
            QgsProcessingParameterMapLayer(
                self.VALIDATION, self.tr("Separate validation labels"), types=LABEL_LAYER_TYPES, optional=True
            ),
            "Labels used only to validate, instead of a share of the training labels (same class field "
            "and class names).",
        )
        self.add(
            QgsProcessingParameterFile(
                self.CLASS_CSV, self.tr("Class names and colours (CSV)"), optional=True, fileFilter=CLASS_CSV_FILTER
            ),
            "A table with the columns id,name,color (e.g. 1,Buildings,#e41a1c) that names and colours the "
            "classes in the model and in every map classified with it.",
        )
        self.add(
            QgsProcessingParameterNumber(
                self.EPOCHS,
                self.tr("Epochs (0 = the protocol's)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=0,
                minValue=0,
                maxValue=10000,
            ),
            "How many times each network sees every training sample; 0 takes the protocol's choice. More "
            "epochs take longer; the best epoch on the validation samples is kept (the last one with the "
            "ensemble protocol).",
        )
        self.add(
            QgsProcessingParameterNumber(
                self.SAMPLES_PER_CLASS,
                self.tr("Training samples per class (0 = all)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=PAPER.samples_per_class,
                minValue=0,
            ),
            "How many labelled pixels of each class are used for training (the published protocol uses "
            "20). 0 uses all labelled pixels that are not kept for validation.",
        )
        self.add(
            QgsProcessingParameterNumber(
                self.VALIDATION_FRACTION,
                self.tr("Validation share of the labels"),
                QgsProcessingParameterNumber.Double,
                defaultValue=PAPER.validation_fraction,
                minValue=0.0,
                maxValue=0.9,
            ),
            "The share of each class's labelled pixels kept aside to validate the network after every "
            "epoch (ignored when separate validation labels are given).",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.VALIDATION_SPLIT,
                self.tr("Validation split"),
                options=[
                    self.tr("spatial (whole polygons, regions or blocks, apart from the training pixels)"),
                    self.tr("random (the paper's protocol, optimistic)"),
                ],
                defaultValue=VALIDATION_SPLITS.index(PAPER.validation_split),
            ),
            "How the validation pixels are kept aside. Spatial: whole polygons, connected regions of a class "
            "raster or blocks of points, and no training pixel within a patch's width of them, so no training "
            "patch overlaps a validation patch and the validation accuracy is honest. Random: pixels drawn at "
            "random inside the same polygons as the training pixels, as in the paper; their patches overlap, "
            "so the validation accuracy is optimistic. Ignored when separate validation labels are given.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterEnum(
                self.PROTOCOL,
                self.tr("Training protocol"),
                options=[
                    self.tr("robust (symmetries, label smoothing, weight average, cosine schedule, spatial split)"),
                    self.tr("paper (the published protocol exactly)"),
                    self.tr("ensemble (3 networks of 50 epochs, each on its own spatial split)"),
                ],
                defaultValue=PROTOCOLS.index(PAPER.protocol),
            ),
            "Robust: every training patch is shown under a random one of its 8 turns and mirrors, targets are "
            "smoothed, the weights kept are an exponential moving average, the learning rate follows a cosine "
            "after a warm-up, batches are class-balanced and validation is spatial: accuracy that depends far "
            "less on the seed. Paper: the published protocol exactly, for comparisons. Ensemble: the paper's "
            "training for 3 networks of 50 epochs in one model file, their probabilities averaged; each network "
            "holds out its own polygons, regions or blocks (a spatial split drawn with its own seed) and trains "
            "on the training samples per class outside them, the last epoch is kept, and the validation "
            "accuracy reported is that of the networks on the pixels they held out.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterNumber(
                self.BATCH_SIZE,
                self.tr("Batch size"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=PAPER.batch_size,
                minValue=2,
                maxValue=65536,
            ),
            "Samples per training step.",
            advanced=True,
        )
        rate = QgsProcessingParameterNumber(
            self.LEARNING_RATE,
            self.tr("Learning rate"),
            QgsProcessingParameterNumber.Double,
            defaultValue=PAPER.learning_rate,
            minValue=1e-7,
            maxValue=1.0,
        )
        rate.setMetadata({"widget_wrapper": {"decimals": 7}})
        self.add(
            rate, "The step size of the Adam optimiser; it decays by 10 % every fifth of the epochs.", advanced=True
        )
        self.add(
            QgsProcessingParameterNumber(
                self.PATCH_SIZE,
                self.tr("Patch size (pixels, odd)"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=PAPER.patch_size,
                minValue=3,
                maxValue=63,
            ),
            "The side of the square neighbourhood the network sees around each pixel; must be odd.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterNumber(
                self.PCA_COMPONENTS,
                self.tr("PCA components"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=PAPER.pca_components,
                minValue=1,
                maxValue=1000,
            ),
            "How many principal components of the hyperspectral bands the network uses.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterNumber(
                self.SEED,
                self.tr("Random seed"),
                QgsProcessingParameterNumber.Integer,
                defaultValue=PAPER.seed,
                minValue=0,
            ),
            "Fixes the choice of samples and the initial weights, so that a run can be repeated.",
        )
        add_device(self, self.DEVICE)
        self.add(
            QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, self.tr("Model file"), fileFilter=MODEL_FILTER),
            "The trained model (.ncglf2): the network, the fitted preprocessing and the class names and colours.",
        )
        self.add(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_REPORT,
                self.tr("Training report"),
                fileFilter=HTML_FILTER,
                optional=True,
                createByDefault=False,
            ),
            "An HTML page with the loss and accuracy curves and the validation accuracy per class "
            "(a PNG of the curves and a JSON file are written beside it).",
        )
        for name, title in (
            (self.VALIDATION_OA, "Validation overall accuracy"),
            (self.VALIDATION_AA, "Validation average accuracy"),
            (self.VALIDATION_KAPPA, "Validation kappa"),
        ):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(title)))

    def request(self, parameters, context, feedback) -> TrainRequest:
        """The engine's request from the parameters (layers turned into files)."""
        hsi = self.raster_path(self.parameterAsRasterLayer(parameters, self.HSI, context), "HSI")
        lidar = self.raster_paths(self.parameterAsLayerList(parameters, self.LIDAR, context), "LiDAR")
        labels, labels_layer = self.labels_source(
            self.chosen_labels(parameters, self.LABELS, self.LABELS_RASTER, context),
            "training labels",
            context,
            feedback,
        )
        validation, validation_layer = None, None
        validation_labels = self.parameterAsLayer(parameters, self.VALIDATION, context)
        if validation_labels is not None:
            validation, validation_layer = self.labels_source(validation_labels, "validation labels", context, feedback)
        params = TrainingParameters(
            epochs=self.optional_int(parameters, self.EPOCHS, context),
            samples_per_class=self.optional_int(parameters, self.SAMPLES_PER_CLASS, context),
            validation_fraction=self.parameterAsDouble(parameters, self.VALIDATION_FRACTION, context),
            validation_split=VALIDATION_SPLITS[self.parameterAsEnum(parameters, self.VALIDATION_SPLIT, context)],
            protocol=PROTOCOLS[self.parameterAsEnum(parameters, self.PROTOCOL, context)],
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context),
            pca_components=self.parameterAsInt(parameters, self.PCA_COMPONENTS, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            device=self.device(parameters, self.DEVICE, context),
        )
        request = TrainRequest(
            hsi=hsi,
            lidar=lidar,
            labels=labels,
            out=self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context),
            class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
            validation=validation,
            class_csv=self.parameterAsFile(parameters, self.CLASS_CSV, context) or None,
            report=self.optional_output(parameters, self.OUTPUT_REPORT, context),
            overwrite=True,  # Processing already asked before replacing a destination
            params=params,
            labels_layer=labels_layer,
            validation_layer=validation_layer,
        )
        return request

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        request = self.checked(lambda: self.request(parameters, context, feedback))
        outcome = self.run_job(request, feedback)
        validation = outcome["validation"] or {}
        return {
            self.OUTPUT_MODEL: outcome["model"],
            self.OUTPUT_REPORT: outcome["report"],
            self.VALIDATION_OA: validation.get("oa"),
            self.VALIDATION_AA: validation.get("aa"),
            self.VALIDATION_KAPPA: validation.get("kappa"),
        }

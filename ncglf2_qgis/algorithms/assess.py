"""``ncglf2:assess``: the accuracy of a class map against reference labels."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterRasterLayer,
)

from ...core.requests import AssessRequest
from .base import NCGLF2Algorithm
from .train import CLASS_CSV_FILTER, HTML_FILTER, add_labels


class AssessAlgorithm(NCGLF2Algorithm):
    CLASSIFICATION = "CLASSIFICATION"
    REFERENCE = "REFERENCE"
    REFERENCE_RASTER = "REFERENCE_RASTER"
    CLASS_FIELD = "CLASS_FIELD"
    CLASS_CSV = "CLASS_CSV"
    OUTPUT_HTML = "OUTPUT_HTML"
    OUTPUT_JSON = "OUTPUT_JSON"
    OUTPUT_CSV = "OUTPUT_CSV"
    MODEL = "MODEL"
    OA = "OA"
    AA = "AA"
    KAPPA = "KAPPA"
    OA_AWAY = "OA_AWAY"
    AA_AWAY = "AA_AWAY"
    KAPPA_AWAY = "KAPPA_AWAY"

    LABEL_CHOICES = ((REFERENCE, REFERENCE_RASTER, "reference labels"),)

    TAGS = "accuracy,assessment,validation,confusion matrix,kappa,overall accuracy"

    SUMMARY = (
        "Measures how well a class map agrees with reference labels that were not used for training: "
        "overall accuracy (OA), average accuracy over the classes (AA), Cohen's kappa, the accuracy of "
        "each class and the confusion matrix, written as an HTML report. The reference is a class raster "
        "or points or polygons with a class field; text classes are matched to the map's class names. "
        "Given the model that made the map, it also reports the accuracy on the reference pixels whose patch "
        "holds none of the model's training pixels: the honest figure, since none of them shares its patch "
        "with a pixel the network was fitted on."
    )

    def name(self) -> str:
        return "assess"

    def displayName(self) -> str:  # noqa: N802
        return self.tr("Assess accuracy")

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.add(
            QgsProcessingParameterRasterLayer(self.CLASSIFICATION, self.tr("Classification")),
            "A class map, e.g. written by 'Classify with a model'.",
        )
        add_labels(
            self,
            self.REFERENCE,
            self.REFERENCE_RASTER,
            self.CLASS_FIELD,
            (
                "Reference labels (points or polygons)",
                "The ground truth as points or polygons with a class field; use labels that were not used for "
                "training. Give either these or a reference raster.",
            ),
            (
                "Reference labels (class raster)",
                "The ground truth as a raster of class ids (0 or nodata = no reference). Give either this or "
                "points/polygons.",
            ),
            (
                "Class field",
                "The attribute that holds the class of each point or polygon (class ids, or class names as in the map).",
            ),
        )
        self.add(
            QgsProcessingParameterFile(
                self.CLASS_CSV, self.tr("Class names and colours (CSV)"), optional=True, fileFilter=CLASS_CSV_FILTER
            ),
            "A table with the columns id,name,color naming the reference classes.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFile(
                self.MODEL, self.tr("Model that made the map"), extension="ncglf2", optional=True
            ),
            "The model file (.ncglf2) the map was classified with. Reference pixels next to its training pixels "
            "(closer than half the patch size) share part of their patch with them and flatter the accuracy; "
            "the report then also gives the accuracy without them, the honest figure. Models imported from the "
            "reference checkpoint or written by older versions do not record their training pixels.",
            advanced=True,
        )
        self.add(
            QgsProcessingParameterFileDestination(self.OUTPUT_HTML, self.tr("Accuracy report"), fileFilter=HTML_FILTER),
            "An HTML page with OA, AA, kappa, per-class accuracies and the confusion matrix.",
        )
        self.add(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_JSON,
                self.tr("Accuracy figures (JSON)"),
                fileFilter="JSON (*.json)",
                optional=True,
                createByDefault=False,
            ),
            "The same figures as a JSON file, for scripts and spreadsheets.",
        )
        self.add(
            QgsProcessingParameterFileDestination(
                self.OUTPUT_CSV,
                self.tr("Confusion matrix (CSV)"),
                fileFilter="CSV (*.csv)",
                optional=True,
                createByDefault=False,
            ),
            "The confusion matrix as a CSV table (rows: reference, columns: map).",
            advanced=True,
        )
        for name, title in (
            (self.OA, "Overall accuracy"),
            (self.AA, "Average accuracy"),
            (self.KAPPA, "Kappa"),
            (self.OA_AWAY, "Overall accuracy away from the training pixels"),
            (self.AA_AWAY, "Average accuracy away from the training pixels"),
            (self.KAPPA_AWAY, "Kappa away from the training pixels"),
        ):
            self.addOutput(QgsProcessingOutputNumber(name, self.tr(title)))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        classification = self.raster_path(
            self.parameterAsRasterLayer(parameters, self.CLASSIFICATION, context), "classification"
        )
        reference, reference_layer = self.labels_source(
            self.chosen_labels(parameters, self.REFERENCE, self.REFERENCE_RASTER, context),
            "reference labels",
            context,
            feedback,
        )
        out_html = self.parameterAsFileOutput(parameters, self.OUTPUT_HTML, context)
        out_json = self.optional_output(parameters, self.OUTPUT_JSON, context)
        out_csv = self.optional_output(parameters, self.OUTPUT_CSV, context)
        request = self.checked(
            lambda: AssessRequest(
                classification=classification,
                reference=reference,
                out_html=out_html,
                json_path=out_json,
                csv_path=out_csv,
                class_field=self.parameterAsString(parameters, self.CLASS_FIELD, context) or None,
                class_csv=self.parameterAsFile(parameters, self.CLASS_CSV, context) or None,
                reference_layer=reference_layer,
                model=self.parameterAsFile(parameters, self.MODEL, context) or None,
                overwrite=True,  # Processing already asked before replacing a destination
            )
        )
        assessment = self.run_job(request, feedback)
        away = assessment["away_from_training"] or {}
        return {
            self.OUTPUT_HTML: out_html,
            self.OUTPUT_JSON: out_json,
            self.OUTPUT_CSV: out_csv,
            self.OA: assessment["oa"],
            self.AA: assessment["aa"],
            self.KAPPA: assessment["kappa"],
            self.OA_AWAY: away.get("oa"),
            self.AA_AWAY: away.get("aa"),
            self.KAPPA_AWAY: away.get("kappa"),
        }

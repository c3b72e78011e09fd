"""Accuracy and training reports: contents read back, escaping, atomic writes."""

import csv
import json
import math

import matplotlib.image
import numpy as np
import pytest

from ncglf2.core.errors import InputError
from ncglf2.core.io.outputs import write_atomically
from ncglf2.core.pipeline.metrics import AwayFromTraining, assess
from ncglf2.core.pipeline.report import (
    TrainingHistory,
    describe_spatial_split,
    plot_training_curves,
    validation_warnings,
    write_accuracy_report,
    write_training_report,
)

IDS = [7, 2, 5]
NAMES = ["Grass", '<Road & "curb">', "Water"]
ESCAPED_ROAD = "&lt;Road &amp; &quot;curb&quot;&gt;"
# Same hand example as test_metrics: OA 12/17, AA 32/45, kappa 107/192.
HAND = np.array([[5, 1, 0], [2, 3, 1], [0, 1, 4]], dtype=np.int64)


@pytest.fixture
def assessment():
    ref, pred = [], []
    for i, r in enumerate(IDS):
        for j, p in enumerate(IDS):
            ref += [r] * int(HAND[i, j])
            pred += [p] * int(HAND[i, j])
    return assess(np.array(ref), np.array(pred), IDS, NAMES)


@pytest.fixture
def history():
    return TrainingHistory(
        epochs=[1, 2, 3, 4],
        train_loss=[1.2, 0.8, 0.5, 0.4],
        train_accuracy=[0.40, 0.65, 0.80, 0.86],
        val_loss=[1.3, 0.9, 0.7, 0.75],
        val_accuracy=[0.35, 0.60, 0.7234, 0.71],
        learning_rate=[1e-4, 1e-4, 5e-5, 5e-5],
        best_epoch=3,
    )


def test_json_holds_the_assessment(tmp_path, assessment):
    context = {"reference": "labels.tif", "model": "houston.ncglf2", "score": np.float32(0.5)}
    write_accuracy_report(assessment, str(tmp_path / "r.html"), json_path=str(tmp_path / "r.json"), context=context)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["oa"] == pytest.approx(12 / 17, abs=1e-12)
    assert data["aa"] == pytest.approx(32 / 45, abs=1e-12)
    assert data["kappa"] == pytest.approx(107 / 192, abs=1e-12)
    assert data["confusion_matrix"] == HAND.tolist()
    assert data["n"] == 17 and data["class_ids"] == IDS and data["names"] == NAMES
    assert [c["name"] for c in data["per_class"]] == NAMES
    assert data["per_class"][0]["producers_accuracy"] == pytest.approx(5 / 6, abs=1e-12)
    assert data["per_class"][1]["users_accuracy"] == pytest.approx(3 / 5, abs=1e-12)
    assert data["per_class"][2]["f1"] == pytest.approx(0.8, abs=1e-12)
    assert [c["reference_pixels"] for c in data["per_class"]] == [6, 6, 5]
    assert [c["mapped_pixels"] for c in data["per_class"]] == [7, 5, 5]
    assert data["context"] == {"reference": "labels.tif", "model": "houston.ncglf2", "score": 0.5}
    for key, value in assessment.to_dict().items():
        assert data[key] == value


def test_json_writes_nan_as_null(tmp_path):
    a = assess(np.array([7, 2]), np.array([7, 2]), IDS, NAMES)  # Water absent everywhere
    write_accuracy_report(a, str(tmp_path / "r.html"), json_path=str(tmp_path / "r.json"))
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    assert "NaN" not in text
    assert json.loads(text)["per_class"][2]["producers_accuracy"] is None


def test_csv_parses_back(tmp_path, assessment):
    write_accuracy_report(assessment, str(tmp_path / "r.html"), csv_path=str(tmp_path / "r.csv"))
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    header, body, totals = rows[0], rows[1:-1], rows[-1]
    assert header[:2] == ["id", "name"] and header[2:5] == NAMES
    assert header[5:] == [
        "other_id",
        "reference_total",
        "producers_accuracy",
        "users_accuracy",
        "f1",
        "producers_ci95_low",
        "producers_ci95_high",
        "users_ci95_low",
        "users_ci95_high",
        "scope",
    ]
    assert [int(r[0]) for r in body] == IDS and [r[1] for r in body] == NAMES
    np.testing.assert_array_equal(np.array([[int(v) for v in r[2:5]] for r in body]), HAND)
    assert [int(r[6]) for r in body] == [6, 6, 5]
    np.testing.assert_allclose([float(r[7]) for r in body], [5 / 6, 1 / 2, 4 / 5], rtol=0, atol=1e-12)
    np.testing.assert_allclose([float(r[8]) for r in body], [5 / 7, 3 / 5, 4 / 5], rtol=0, atol=1e-12)
    assert totals[1] == "mapped_total" and [int(v) for v in totals[2:5]] == [7, 5, 5] and int(totals[6]) == 17
    np.testing.assert_allclose(
        [[float(v) for v in r[10:14]] for r in body],
        np.hstack([assessment.producers_ci95, assessment.users_ci95]),
        rtol=0,
        atol=1e-12,
    )
    assert {r[-1] for r in rows[1:]} == {"all_reference_pixels"}


def test_html_escapes_and_shows_percentages(tmp_path, assessment):
    context = {"colors": {"7": "#00ff00", 2: (128, 128, 128), 5: "red;}</style>"}, "input": "<cube>.tif"}
    write_accuracy_report(assessment, str(tmp_path / "r.html"), title="Houston & co", context=context)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert ESCAPED_ROAD in page and '<Road & "curb">' not in page
    assert "Houston &amp; co" in page and "&lt;cube&gt;.tif" in page
    # OA 70.59 %, AA 71.11 %, kappa 55.73 %, CI 70.59 -/+ 21.66
    for text in ("70.59%", "71.11%", "55.73%", "48.93%", "92.25%", "83.33%", "71.43%"):
        assert text in page
    low, high = assessment.producers_ci95[0]  # Grass: 5 of 6, Wilson 43.65 - 96.99 %
    assert f"{100 * low:.2f} – {100 * high:.2f}%" == "43.65 – 96.99%" and "43.65 – 96.99%" in page
    assert "background:#00ff00" in page and "background:#808080" in page
    assert "red;}" not in page  # an unsafe colour is dropped, not injected
    assert '<td class="num diag">5</td>' in page and '<td class="num total">17</td>' in page
    assert "http" not in page.split("<footer>")[0].lower()  # self-contained: no external assets


def test_png_curves(tmp_path, history):
    png = tmp_path / "curves.png"
    plot_training_curves(history, str(png))
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    image = matplotlib.image.imread(str(png))
    assert image.shape[:2] == (400, 1000)
    assert image[..., :3].std() > 0.05  # something was drawn


def test_training_report(tmp_path, history, assessment):
    html_path = tmp_path / "train.html"
    write_training_report(
        history, str(html_path), validation=assessment, context={"epochs": 80, "optimizer": "Adam <lr=1e-4>"}
    )
    page = html_path.read_text(encoding="utf-8")
    assert (tmp_path / "train_curves.png").stat().st_size > 10_000
    assert 'src="train_curves.png"' in page
    assert '<tr class="best"><td class="num">3</td>' in page and "72.34%" in page
    assert ESCAPED_ROAD in page and "70.59%" in page  # validation section, same builder
    assert "Adam &lt;lr=1e-4&gt;" in page


SPATIAL = {
    "method": "spatial",
    "patch_size": 11,
    "gap": 10,
    "removed_by_gap": 321,
    "point_block_size": None,
    "classes": [
        {"id": 7, "name": "Grass", "groups": "polygons", "count": 14, "held_out": 3, "validation_pixels": 6},
        {"id": 2, "name": NAMES[1], "groups": "polygons", "count": 9, "held_out": 2, "validation_pixels": 6},
        {
            "id": 5,
            "name": "Water",
            "groups": "regions cut into blocks",
            "count": 25,
            "held_out": 4,
            "validation_pixels": 5,
            "block_size": 12,
        },
    ],
}


def rising(epochs: int, saturated_from: int, top: float = 1.0) -> TrainingHistory:
    """Validation accuracy 50 % until ``saturated_from``, then ``top``."""
    accuracy = [0.5 if epoch < saturated_from else top for epoch in range(1, epochs + 1)]
    return TrainingHistory(epochs=list(range(1, epochs + 1)), val_accuracy=accuracy, best_epoch=saturated_from)


def test_validation_warnings_say_when_validation_says_little(assessment):
    assert validation_warnings(rising(10, 3), assessment, SPATIAL) == []  # after the first fifth: fine
    early = validation_warnings(rising(10, 2), assessment, SPATIAL)
    assert early == [
        "the validation accuracy reaches 100.00% by epoch 2 of 10: the validation pixels are too easy to tell the "
        "epochs apart, so the kept epoch is chosen among ties (more varied validation labels, or the spatial "
        "split, measure better)"
    ]
    sparse = rising(10, 2)
    sparse.val_accuracy = [math.nan if e % 5 else v for e, v in zip(sparse.epochs, sparse.val_accuracy)]
    sparse.val_accuracy[1] = 1.0  # measured at epochs 2, 5 and 10 only, as when the last epoch is kept
    assert validation_warnings(sparse, assessment, SPATIAL, keep="last") == [
        "the validation accuracy reaches 100.00% by epoch 2 of 10: the validation pixels are too easy to tell a "
        "good model from a better one (more varied validation labels, or the spatial split, measure better)"
    ]
    assert validation_warnings(rising(12, 3, top=0.995), assessment, SPATIAL)[0].startswith(
        "the validation accuracy reaches 99.50% by epoch 3 of 12"
    )  # ceil(0.2 * 12) = 3 epochs
    assert validation_warnings(rising(12, 3, top=0.9949), assessment, SPATIAL) == []
    assert validation_warnings(rising(12, 4), assessment, SPATIAL) == []
    random = validation_warnings(rising(10, 5), assessment, {"method": "random"})
    assert len(random) == 1 and random[0].startswith("the validation pixels were drawn at random")
    assert validation_warnings(rising(10, 5), assessment, {"method": "separate"}) == []
    thin = assess(np.array([7, 7, 2, 2, 5]), np.array([7, 7, 2, 5, 5]), IDS, NAMES)
    assert validation_warnings(rising(10, 5), thin, SPATIAL) == [
        "fewer than 2 validation pixels in 1 class: 'Water' (1); their validation accuracy says nothing"
    ]
    none = validation_warnings(rising(10, 1), None, SPATIAL)  # the curve is the training accuracy then
    assert len(none) == 1 and none[0].startswith("there are no validation pixels")


def test_training_report_names_the_split_and_warns(tmp_path, assessment):
    html_path = tmp_path / "train.html"
    write_training_report(rising(10, 1), str(html_path), validation=assessment, split=SPATIAL)
    page = html_path.read_text(encoding="utf-8")
    body = page[page.index("<body>") :]
    assert body.index(
        '<div class="warning"><strong>Warning:</strong> the validation accuracy reaches 100.00% by epoch 1'
    ) < body.index("Training curves")
    assert "<h2>Validation split</h2><p>Spatial:" in page and "no 11 x 11 training patch overlaps" in page
    assert "<td>Water</td><td>regions cut into blocks</td>" in page and '<td class="num">12</td>' in page
    assert f"<td>{ESCAPED_ROAD}</td><td>polygons</td>" in page
    assert "<h3>Per-class accuracy</h3>" in page and "<h3>Confusion matrix</h3>" in page
    write_training_report(rising(10, 5), str(html_path), validation=assessment, split={"method": "random"})
    page = html_path.read_text(encoding="utf-8")
    assert "<h2>Validation split</h2><p>Random:" in page and "drawn at random among the training labels" in page
    write_training_report(rising(10, 1), str(html_path), validation=assessment)
    assert 'class="warning"' not in html_path.read_text(encoding="utf-8")  # no split known: nothing claimed


def test_the_spatial_split_in_one_log_line():
    assert describe_spatial_split(SPATIAL) == (
        f"spatial validation split (Grass: 3 of 14 polygons, {NAMES[1]}: 2 of 9 polygons, Water: 4 of 25 regions "
        "cut into blocks); no training pixel lies within 10 pixels of a validation pixel: 321 labelled pixels in "
        "between are left for testing"
    )


def test_training_report_png_elsewhere_is_linked_relatively(tmp_path, history):
    (tmp_path / "png").mkdir()
    write_training_report(history, str(tmp_path / "t.html"), png_path=str(tmp_path / "png" / "c d.png"))
    assert 'src="png/c%20d.png"' in (tmp_path / "t.html").read_text(encoding="utf-8")


def test_history_round_trip():
    h = TrainingHistory(
        epochs=[1, 2],
        train_loss=[1.0, 0.5],
        train_accuracy=[0.5, 0.7],
        val_loss=[math.nan, 0.6],
        val_accuracy=[],
        learning_rate=[1e-3, 1e-3],
        best_epoch=2,
    )
    d = json.loads(json.dumps(h.to_dict()))
    assert d["val_loss"] == [None, 0.6] and d["best_epoch"] == 2
    back = TrainingHistory.from_dict(d)
    assert back.epochs == [1, 2] and back.train_loss == [1.0, 0.5] and math.isnan(back.val_loss[0])
    assert back.val_accuracy == [] and back.best_epoch == 2
    with pytest.raises(InputError, match="train_loss has 1 values for 2 epochs"):
        TrainingHistory(epochs=[1, 2], train_loss=[1.0])


def test_missing_folder_leaves_nothing(tmp_path, assessment, history):
    with pytest.raises(InputError, match="missing"):
        write_accuracy_report(assessment, str(tmp_path / "missing" / "r.html"))
    with pytest.raises(InputError, match="missing"):
        plot_training_curves(history, str(tmp_path / "missing" / "c.png"))
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_existing_files(tmp_path, assessment):
    html_path = tmp_path / "r.html"
    html_path.write_text("previous report", encoding="utf-8")
    # The JSON cannot be written, so nothing is replaced.
    with pytest.raises(InputError):
        write_accuracy_report(assessment, str(html_path), json_path=str(tmp_path / "missing" / "r.json"))
    assert html_path.read_text(encoding="utf-8") == "previous report"

    def half_then_fail(stream):
        stream.write(b"half a rep")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        write_atomically(html_path, half_then_fail)
    assert html_path.read_text(encoding="utf-8") == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html"]


def test_both_figures_with_the_honest_one_named(tmp_path, assessment):
    away_part = assess(np.array([7, 7, 2, 5]), np.array([7, 7, 2, 2]), IDS, NAMES)
    away = AwayFromTraining(away_part, patch_size=11, training_pixels=60, excluded=13)
    paths = {k: str(tmp_path / f"r.{k}") for k in ("html", "json", "csv")}
    write_accuracy_report(assessment, paths["html"], paths["json"], paths["csv"], away=away)
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["n"] == 17 and data["oa"] == pytest.approx(12 / 17)
    block = data["away_from_training"]
    assert block["honest"] is True and block["patch_size"] == 11 and block["radius_pixels"] == 5
    assert block["training_pixels"] == 60 and block["excluded_reference_pixels"] == 13
    assert block["assessment"]["n"] == 4 and block["assessment"]["oa"] == pytest.approx(0.75)
    assert "more than 5 pixels" in block["description"]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    honest = page.index("Away from the training pixels: the honest figure")
    assert honest < page.index("All reference pixels: optimistic") < page.index("<h2>All reference pixels</h2>")
    assert "75.00%" in page and "70.59%" in page and ">4<" in page and ">17<" in page
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    scopes = [r[-1] for r in rows[1:]]
    assert scopes == ["all_reference_pixels"] * 4 + ["away_from_training"] * 4
    assert [int(r[6]) for r in rows[5:8]] == [2, 1, 1]


def test_an_unavailable_honest_figure_is_said_so(tmp_path, assessment):
    away = AwayFromTraining(None, patch_size=11, unavailable="the model m.ncglf2 does not record its training pixels")
    paths = {k: str(tmp_path / f"r.{k}") for k in ("html", "json", "csv")}
    write_accuracy_report(assessment, paths["html"], paths["json"], paths["csv"], away=away)
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "No accuracy away from the training pixels: the model m.ncglf2 does not record" in page
    block = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["away_from_training"]
    assert block["honest"] is False and block["assessment"] is None and "does not record" in block["unavailable"]
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as stream:
        assert {r[-1] for r in list(csv.reader(stream))[1:]} == {"all_reference_pixels"}

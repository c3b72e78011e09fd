"""Accuracy and training reports: one self-contained HTML page plus JSON/CSV/PNG.

Every file is written to a temporary name in its target folder and moved into
place only when complete, so a failed write never leaves a half report or
damages the previous one. The HTML pieces for an assessment are built by one
set of functions shared by the accuracy and the training report.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import numpy as np

from ..errors import InputError
from ..io.outputs import write_atomically
from .metrics import Assessment, AwayFromTraining

__all__ = [
    "TrainingHistory",
    "describe_spatial_split",
    "plot_training_curves",
    "validation_warnings",
    "write_accuracy_report",
    "write_training_report",
]

#: Validation accuracy this high within the first fifth of the epochs: the validation pixels cannot tell
#: the epochs apart, so the best epoch is picked among ties.
SATURATED_ACCURACY = 0.995
EARLY_EPOCHS = 0.2

# ---------------------------------------------------------------- file output


def _atomic_write_text(path: str | os.PathLike, text: str) -> None:
    data = text.encode("utf-8")

    def write(stream: BinaryIO) -> None:
        stream.write(data)

    write_atomically(path, write)


# ---------------------------------------------------------------- formatting


def _pct(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{100.0 * value:.2f}%"


def _interval(bounds: Sequence[float]) -> str:
    low, high = bounds
    return "–" if math.isnan(low) or math.isnan(high) else f"{100.0 * low:.2f} – {100.0 * high:.2f}%"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


_HEX = re.compile(r"^#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def _css_color(value: Any) -> str | None:
    """A safe CSS colour from '#rrggbb[aa]' or (r, g, b[, a]) 0-255, else None."""
    if isinstance(value, str):
        return value.lower() if _HEX.match(value) else None
    try:
        channels = [int(c) for c in value]
    except (TypeError, ValueError):
        return None
    if len(channels) not in (3, 4) or not all(0 <= c <= 255 for c in channels):
        return None
    return "#" + "".join(f"{c:02x}" for c in channels[:3])


def _class_colors(class_ids: Sequence[int], colors: Any) -> dict[int, str]:
    """Colours per class id from a mapping id -> colour (keys may be strings, as
    JSON gives them) or a sequence aligned with ``class_ids``."""
    found: dict[int, str] = {}
    if isinstance(colors, Mapping):
        for key, value in colors.items():
            try:
                cid = int(key)
            except (TypeError, ValueError):
                continue
            css = _css_color(value)
            if css is not None:
                found[cid] = css
    elif isinstance(colors, Sequence) and not isinstance(colors, str):
        for cid, value in zip(class_ids, colors):
            css = _css_color(value)
            if css is not None:
                found[int(cid)] = css
    return found


def _plain(value: Any) -> Any:
    """Context values as JSON types: numpy scalars and paths unwrapped, NaN -> None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


_CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1100px;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
.headline{display:flex;flex-wrap:wrap;gap:1em;margin:1em 0}
.score{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:10em;background:#fafafa}
.score .value{font-size:1.6em;font-weight:600}.score .label{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.3em .6em}th{background:#f0f0f0;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.matrix td.diag{background:#cdebd0;font-weight:600}.matrix td.off{background:#fbe3e1}
.matrix td.zero{color:#aaa}.matrix .total{background:#f0f0f0;font-weight:600}
.swatch{display:inline-block;width:1.2em;height:1em;border:1px solid #555;vertical-align:middle}
tr.best td{background:#fff5c8}.note{color:#555;font-size:.88em}
.warning{border:2px solid #c0392b;background:#fdecea;border-radius:6px;padding:.6em 1em;margin:1em 0}
table.figures tr:nth-child(2) th,table.figures tr:nth-child(2) td{background:#e6f4ea;font-weight:600}
img{max-width:100%;height:auto}pre{margin:0;white-space:pre-wrap}
footer{margin-top:2em;color:#777;font-size:.85em}
"""


def _document(title: str, body: str) -> str:
    created = datetime.now().astimezone().isoformat(timespec="seconds")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(title)}</h1>\n{body}\n"
        f"<footer>Created {_esc(created)} by NCGLF2 for QGIS.</footer>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- shared HTML sections


def _headline_html(a: Assessment) -> str:
    low, high = a.oa_ci95
    boxes = [
        ("Overall accuracy", _pct(a.oa), f"95% CI {_pct(low)} – {_pct(high)}"),
        ("Average accuracy", _pct(a.aa), "mean producer's accuracy"),
        ("Kappa", _pct(a.kappa), "agreement beyond chance"),
        ("Pixels assessed", f"{a.n:,}", "reference pixels compared"),
    ]
    cells = "".join(
        f'<div class="score"><div class="label">{_esc(label)}</div>'
        f'<div class="value">{_esc(value)}</div><div class="label">{_esc(note)}</div></div>'
        for label, value, note in boxes
    )
    return f'<div class="headline">{cells}</div>'


def _per_class_html(a: Assessment, colors: dict[int, str]) -> str:
    reference = a.reference_pixels
    mapped = a.mapped_pixels
    show_swatch = bool(colors)
    head = (
        ["Id"]
        + (["Colour"] if show_swatch else [])
        + [
            "Class",
            "Producer's accuracy",
            "95% CI",
            "User's accuracy",
            "95% CI",
            "F1",
            "Reference pixels",
            "Mapped pixels",
        ]
    )
    rows = []
    for i, (cid, name) in enumerate(zip(a.class_ids, a.names)):
        swatch = ""
        if show_swatch:
            css = colors.get(cid)
            swatch = f'<td><span class="swatch" style="background:{css}"></span></td>' if css else "<td></td>"
        rows.append(
            f'<tr><td class="num">{cid}</td>{swatch}<td>{_esc(name)}</td>'
            f'<td class="num">{_pct(a.producers[i])}</td><td class="num">{_interval(a.producers_ci95[i])}</td>'
            f'<td class="num">{_pct(a.users[i])}</td><td class="num">{_interval(a.users_ci95[i])}</td>'
            f'<td class="num">{_pct(a.f1[i])}</td>'
            f'<td class="num">{int(reference[i]):,}</td><td class="num">{int(mapped[i]):,}</td></tr>'
        )
    header = "".join(f"<th>{_esc(h)}</th>" for h in head)
    note = (
        "<p class=\"note\">Producer's accuracy: share of a class's reference pixels mapped as that class "
        "(omission errors). User's accuracy: share of the pixels mapped as a class that truly are it "
        "(commission errors). 95% CI: Wilson score interval, which treats pixels as independent samples "
        "(clustered reference pixels make the true interval wider). – means undefined (no reference or no "
        "mapped pixels).</p>"
    )
    return f'<table class="classes"><tr>{header}</tr>{"".join(rows)}</table>{note}'


def _cell(value: int, css: str) -> str:
    return f'<td class="num {css}">{value:,}</td>'


def _confusion_html(a: Assessment) -> str:
    k = len(a.class_ids)
    other = a.other_ids
    show_other = bool(other.sum())
    header = "<th>Reference \\ Mapped</th>" + "".join(f"<th>{_esc(n)}</th>" for n in a.names)
    if show_other:
        header += "<th>Other id</th>"
    header += '<th class="total">Total</th>'
    rows = []
    for i in range(k):
        cells = "".join(
            _cell(int(a.confusion[i, j]), "diag" if i == j else ("off" if a.confusion[i, j] else "zero"))
            for j in range(k)
        )
        if show_other:
            cells += _cell(int(other[i]), "off" if other[i] else "zero")
        cells += _cell(int(a.reference_pixels[i]), "total")
        rows.append(f"<tr><th>{_esc(a.names[i])}</th>{cells}</tr>")
    totals = "".join(_cell(int(v), "total") for v in a.mapped_pixels)
    if show_other:
        totals += _cell(int(other.sum()), "total")
    totals += _cell(int(a.n), "total")
    rows.append(f'<tr><th class="total">Total</th>{totals}</tr>')
    note = '<p class="note">Rows: reference class. Columns: mapped class. Diagonal: correctly mapped pixels.'
    if show_other:
        note += " Other id: pixels mapped to an id that is not one of the classes, counted as errors."
    note += "</p>"
    return f'<table class="matrix"><tr>{header}</tr>{"".join(rows)}</table>{note}'


def _assessment_html(a: Assessment, colors: dict[int, str], heading_level: int = 2) -> str:
    """Headline, per-class table and confusion matrix of one assessment."""
    h = f"h{heading_level}"
    return (
        _headline_html(a)
        + f"<{h}>Per-class accuracy</{h}>"
        + _per_class_html(a, colors)
        + f"<{h}>Confusion matrix</{h}>"
        + _confusion_html(a)
    )


def _context_value_html(value: Any) -> str:
    value = _plain(value)
    if isinstance(value, list):
        return "<br>".join(_esc(v) for v in value)
    if isinstance(value, dict):
        return f"<pre>{_esc(json.dumps(value, indent=2, ensure_ascii=False))}</pre>"
    return _esc("" if value is None else value)


def _context_html(context: Mapping[str, Any] | None, heading: str) -> str:
    """Key/value table of what the run was about (inputs, model, date...)."""
    items = [(k, v) for k, v in (context or {}).items() if k != "colors"]
    if not items:
        return ""
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_context_value_html(v)}</td></tr>" for k, v in items)
    return f'<h2>{_esc(heading)}</h2><table class="context">{rows}</table>'


# ---------------------------------------------------------------- accuracy report


def _fraction_text(value: float) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


_CSV_INTERVALS = ["producers_ci95_low", "producers_ci95_high", "users_ci95_low", "users_ci95_high"]
#: The ``scope`` column: which reference pixels a row's figures use.
SCOPE_ALL, SCOPE_AWAY = "all_reference_pixels", "away_from_training"


def _confusion_csv(tables: Sequence[tuple[Assessment, str]]) -> str:
    """One table: every assessment's rows, told apart by the last column ``scope``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = tables[0][0].names
    writer.writerow(
        [
            "id",
            "name",
            *names,
            "other_id",
            "reference_total",
            "producers_accuracy",
            "users_accuracy",
            "f1",
            *_CSV_INTERVALS,
            "scope",
        ]
    )
    for a, scope in tables:
        reference = a.reference_pixels
        for i, (cid, name) in enumerate(zip(a.class_ids, a.names)):
            writer.writerow(
                [
                    cid,
                    name,
                    *(int(v) for v in a.confusion[i]),
                    int(a.other_ids[i]),
                    int(reference[i]),
                    _fraction_text(a.producers[i]),
                    _fraction_text(a.users[i]),
                    _fraction_text(a.f1[i]),
                    *(_fraction_text(v) for v in (*a.producers_ci95[i], *a.users_ci95[i])),
                    scope,
                ]
            )
        totals = ["", "mapped_total", *(int(v) for v in a.mapped_pixels), int(a.other_ids.sum()), a.n]
        writer.writerow(totals + [""] * (3 + len(_CSV_INTERVALS)) + [scope])
    return out.getvalue()


def _away_html(away: AwayFromTraining, everything: Assessment, colors: dict[int, str]) -> str:
    """The two figures side by side, the honest one named as such, then its own tables."""
    if away.assessment is None:
        reason = away.unavailable or (
            f"no reference pixel lies more than {away.radius} pixels from the model's training pixels "
            f"({away.excluded:,} reference pixels are within reach of one)"
        )
        return (
            f'<p class="note warning">No accuracy away from the training pixels: {_esc(reason)}. The figures below '
            "use every reference pixel and overstate the accuracy where reference pixels lie next to training "
            "pixels.</p>"
        )
    a = away.assessment
    rows = (
        ("Away from the training pixels: the honest figure", a),
        ("All reference pixels: optimistic where they lie next to training pixels", everything),
    )
    body = "".join(
        f'<tr><th>{_esc(label)}</th><td class="num">{x.n:,}</td><td class="num">{_pct(x.oa)}</td>'
        f'<td class="num">{_interval(x.oa_ci95)}</td><td class="num">{_pct(x.aa)}</td>'
        f'<td class="num">{_pct(x.kappa)}</td></tr>'
        for label, x in rows
    )
    header = "".join(f"<th>{h}</th>" for h in ("", "Pixels", "OA", "OA 95% CI", "AA", "Kappa"))
    return (
        f'<table class="figures"><tr>{header}</tr>{body}</table>'
        f'<p class="note">Away from the training pixels: {_esc(away.describe())}. A reference pixel closer '
        "than that shares part of its patch with a training pixel, which the network was fitted on.</p>"
        "<h2>Away from the training pixels (the honest figure)</h2>" + _assessment_html(a, colors, heading_level=3)
    )


def write_accuracy_report(
    assessment: Assessment,
    html_path: str,
    json_path: str | None = None,
    csv_path: str | None = None,
    title: str = "Accuracy assessment",
    context: dict | None = None,
    away: AwayFromTraining | None = None,
) -> None:
    """Write the accuracy report a GIS user reads, plus machine-readable copies.

    ``away`` (given when the model is known) adds the accuracy on the reference
    pixels away from the model's training pixels, the honest figure, or says
    why it cannot be computed.

    HTML: one self-contained page (headline scores, per-class table with colour
    swatches when ``context["colors"]`` maps class id -> '#rrggbb' or (r, g, b),
    or lists colours in class order; confusion matrix; the other ``context``
    entries as a table).

    JSON: ``assessment.to_dict()`` (all reference pixels) plus
    ``"away_from_training"`` (``AwayFromTraining.to_dict()`` or ``null``),
    ``"context"`` and ``"created"``; scores are fractions in [0, 1], NaN is ``null``.

    CSV (UTF-8, comma-separated), one row per reference class in class order::

        id, name, <mapped class name> x K, other_id, reference_total,
        producers_accuracy, users_accuracy, f1, producers_ci95_low,
        producers_ci95_high, users_ci95_low, users_ci95_high, scope

    The K named columns are the confusion-matrix counts (rows = reference,
    columns = mapped); ``other_id`` counts pixels mapped to ids that are no
    class. Accuracies and their Wilson 95 % bounds are fractions, empty where
    undefined. A row with name ``mapped_total`` holds the column totals and
    ``n``. ``scope`` is ``all_reference_pixels``; with ``away`` figures the
    same rows follow for ``away_from_training``.
    """
    context = dict(context or {})
    colors = _class_colors(assessment.class_ids, context.get("colors"))
    if away is not None and away.assessment is not None:
        body = (
            _away_html(away, assessment, colors)
            + "<h2>All reference pixels</h2>"
            + _assessment_html(assessment, colors, heading_level=3)
        )
    else:
        body = (_away_html(away, assessment, colors) if away is not None else "") + _assessment_html(assessment, colors)
    page = _document(title, body + _context_html(context, "Context"))
    payload = None
    if json_path is not None:
        figures = assessment.to_dict()
        figures["away_from_training"] = away.to_dict() if away is not None else None
        figures["title"] = title
        figures["created"] = datetime.now().astimezone().isoformat(timespec="seconds")
        figures["context"] = _plain(context)
        payload = json.dumps(figures, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    tables = [(assessment, SCOPE_ALL)]
    if away is not None and away.assessment is not None:
        tables.append((away.assessment, SCOPE_AWAY))
    table = _confusion_csv(tables) if csv_path is not None else None
    # Everything is built before the first write: a bad value cannot leave half a set.
    if json_path is not None and payload is not None:
        _atomic_write_text(json_path, payload)
    if csv_path is not None and table is not None:
        _atomic_write_text(csv_path, table)
    _atomic_write_text(html_path, page)


# ---------------------------------------------------------------- training report


def _floats(values: Sequence[Any] | None) -> list[float]:
    return [math.nan if v is None else float(v) for v in (values or [])]


@dataclass
class TrainingHistory:
    """Per-epoch training record; accuracies are fractions, NaN where not measured
    (for instance validation losses when there is no validation split)."""

    epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_epoch: int = -1

    def __post_init__(self) -> None:
        n = len(self.epochs)
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate"):
            values = getattr(self, name)
            if values and len(values) != n:
                raise InputError(f"training history: {name} has {len(values)} values for {n} epochs")

    def _column(self, name: str) -> list[float]:
        values = _floats(getattr(self, name))
        return values if values else [math.nan] * len(self.epochs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; NaN becomes ``None``."""
        out: dict[str, Any] = {"epochs": [int(e) for e in self.epochs]}
        for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate"):
            out[name] = [None if math.isnan(v) else v for v in _floats(getattr(self, name))]
        out["best_epoch"] = int(self.best_epoch)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingHistory:
        """Inverse of :meth:`to_dict`; missing series are empty, ``None`` is NaN."""
        try:
            return cls(
                epochs=[int(e) for e in data.get("epochs", [])],
                train_loss=_floats(data.get("train_loss")),
                train_accuracy=_floats(data.get("train_accuracy")),
                val_loss=_floats(data.get("val_loss")),
                val_accuracy=_floats(data.get("val_accuracy")),
                learning_rate=_floats(data.get("learning_rate")),
                best_epoch=int(data.get("best_epoch", -1)),
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"training history is malformed: {exc}") from exc


def plot_training_curves(history: TrainingHistory, png_path: str) -> None:
    """Loss and accuracy per epoch (train and validation), best epoch marked; 1000x400 px PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = list(history.epochs)
    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    loss_axes, acc_axes = figure.subplots(1, 2)
    panels = (
        (loss_axes, "Loss", "train_loss", "val_loss", 1.0),
        (acc_axes, "Accuracy (%)", "train_accuracy", "val_accuracy", 100.0),
    )
    for axes, label, train_name, val_name, scale in panels:
        train = np.asarray(history._column(train_name)) * scale
        val = np.asarray(history._column(val_name)) * scale
        axes.plot(epochs, train, label="training", color="#1f77b4", marker="." if len(epochs) < 30 else None)
        measured = ~np.isnan(val)  # every epoch, or every few when the validation only reports
        if measured.any():
            sparse = measured.sum() < len(epochs)
            axes.plot(
                np.asarray(epochs)[measured],
                val[measured],
                label="validation",
                color="#d62728",
                marker="." if len(epochs) < 30 or sparse else None,
            )
        if history.best_epoch in epochs:
            axes.axvline(
                history.best_epoch,
                color="#2ca02c",
                linestyle="--",
                linewidth=1,
                label=f"best epoch ({history.best_epoch})",
            )
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xlabel("Epoch")
        axes.set_ylabel(label)
        axes.set_title(label.split(" ")[0])
        axes.grid(True, alpha=0.3)
        if epochs:
            axes.legend(loc="best", fontsize="small")
    write_atomically(png_path, lambda stream: figure.savefig(stream, format="png", dpi=100))


def _number(value: float, digits: int = 4) -> str:
    return "–" if math.isnan(value) else f"{value:.{digits}f}"


def _history_html(history: TrainingHistory) -> str:
    columns = [
        history._column(n) for n in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate")
    ]
    rows = []
    for i, epoch in enumerate(history.epochs):
        tl, ta, vl, va, lr = (c[i] for c in columns)
        best = ' class="best"' if epoch == history.best_epoch else ""
        lr_text = "–" if math.isnan(lr) else f"{lr:.3g}"
        rows.append(
            f'<tr{best}><td class="num">{int(epoch)}</td><td class="num">{_number(tl)}</td>'
            f'<td class="num">{_pct(ta)}</td><td class="num">{_number(vl)}</td>'
            f'<td class="num">{_pct(va)}</td><td class="num">{lr_text}</td></tr>'
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "Epoch",
            "Training loss",
            "Training accuracy",
            "Validation loss",
            "Validation accuracy",
            "Learning rate",
        )
    )
    note = (
        f'<p class="note">Highlighted: best epoch ({int(history.best_epoch)}), whose weights were kept.</p>'
        if history.best_epoch in history.epochs
        else ""
    )
    return f'<table class="history"><tr>{header}</tr>{"".join(rows)}</table>{note}'


def _relative_url(target: Path, base_folder: Path) -> str:
    try:
        relative = os.path.relpath(target.resolve(), base_folder.resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return target.resolve().as_uri()
    return quote(Path(relative).as_posix())


def validation_warnings(
    history: TrainingHistory,
    validation: Assessment | None,
    split: Mapping[str, Any] | None = None,
    keep: str = "best",
) -> list[str]:
    """Why the validation accuracy, and so the choice of the kept epoch, may say little; empty when nothing says so.

    ``split`` is the split's summary (``{"method": "spatial" | "random" | "separate", ...}``).
    """
    warnings = []
    if (split or {}).get("method") == "random":
        warnings.append(
            "the validation pixels were drawn at random among the training labels, inside the same polygons and "
            "regions as the training pixels: their patches overlap the training patches, so the validation "
            "accuracy is optimistic and the kept epoch is chosen on it (the spatial validation split avoids this)"
        )
    if validation is None or validation.n == 0:
        warnings.append(
            "there are no validation pixels: the kept epoch is the one with the best training accuracy, "
            "and no accuracy of the model on pixels it did not train on is known"
        )
        return warnings
    few = [f"{name!r} ({int(n)})" for name, n in zip(validation.names, validation.reference_pixels) if n < 2]
    if few:
        warnings.append(
            f"fewer than 2 validation pixels in {len(few)} class{'es' * (len(few) > 1)}: {', '.join(few)}; "
            "their validation accuracy says nothing"
        )
    accuracy = history._column("val_accuracy")
    early = max(1, math.ceil(EARLY_EPOCHS * len(history.epochs)))
    reached = [epoch for epoch, value in zip(history.epochs[:early], accuracy[:early]) if value >= SATURATED_ACCURACY]
    if reached:
        warnings.append(
            f"the validation accuracy reaches {_pct(max(v for v in accuracy[:early] if not math.isnan(v)))} by "
            f"epoch {reached[0]} of "
            f"{len(history.epochs)}: the validation pixels are too easy to tell "
            + (
                "the epochs apart, so the kept epoch is chosen among ties"
                if keep == "best"
                else "a good model from a better one"
            )
            + " (more varied validation labels, or the spatial split, measure better)"
        )
    return warnings


def describe_spatial_split(split: Mapping[str, Any]) -> str:
    """One line on what a spatial split held out, for the log."""
    classes = split.get("classes", [])
    held = ", ".join(f"{c['name']}: {c['held_out']} of {c['count']} {c['groups']}" for c in classes)
    if split.get("members"):
        return (
            f"spatial validation split for each of the {split['members']} networks ({held}, by one network or "
            f"more): each holds out its own groups, drawn with its own seed, and none of its training pixels lies "
            f"within {split.get('gap')} pixels of its validation pixels; {split.get('removed_by_gap')} labelled "
            "pixels that no network trains or validates on are left for testing"
        )
    return (
        f"spatial validation split ({held}); no training pixel lies within {split.get('gap')} pixels of a "
        f"validation pixel: {split.get('removed_by_gap')} labelled pixels in between are left for testing"
    )


def _split_html(split: Mapping[str, Any] | None) -> str:
    if not split:
        return ""
    method = split.get("method")
    if method == "separate":
        return "<h2>Validation split</h2><p>The validation pixels come from separate validation labels.</p>"
    if method == "random":
        return (
            "<h2>Validation split</h2><p>Random: the validation pixels are drawn at random among the labelled "
            "pixels not trained on (the paper's protocol).</p>"
        )
    size = _esc(split.get("patch_size"))
    members = split.get("members")
    text = (
        f"<h2>Validation split</h2><p>Spatial, one split a network: each of the {_esc(members)} networks of the "
        "ensemble holds out its own whole polygons, regions or blocks of each class, drawn with its own seed, and "
        "trains on pixels outside them, with no training pixel of its own within "
        f"{_esc(split.get('gap'))} pixels (Chebyshev distance) of its validation pixels, so no {size} x {size} "
        "patch it trains on overlaps one it validates on. The validation accuracy below is out of split: each "
        "pixel as predicted by the networks that validated on it, none of which trained next to it, an honest "
        f"estimate of a smaller ensemble; {_esc(split.get('removed_by_gap'))} labelled pixels that no network "
        "trains or validates on are left for testing.</p>"
        if members
        else "<h2>Validation split</h2><p>Spatial: whole polygons, regions or blocks of each class are held out for "
        f"validation, and no training pixel lies within {_esc(split.get('gap'))} pixels (Chebyshev distance) of "
        f"a validation pixel, so no {size} x {size} training patch overlaps a validation patch; "
        f"{_esc(split.get('removed_by_gap'))} labelled pixels in that gap are left for testing.</p>"
    )
    rows = "".join(
        f"<tr><td>{_esc(c.get('name'))}</td><td>{_esc(c.get('groups'))}</td>"
        f'<td class="num">{_esc(c.get("count"))}</td><td class="num">{_esc(c.get("held_out"))}</td>'
        f'<td class="num">{_esc(c.get("validation_pixels"))}</td>'
        f'<td class="num">{_esc(c.get("block_size") or "–")}</td></tr>'
        for c in split.get("classes", [])
    )
    header = "".join(
        f"<th>{h}</th>"
        for h in ("Class", "Groups", "Groups in all", "Held out", "Validation pixels", "Block side (pixels)")
    )
    return f'{text}<table class="split"><tr>{header}</tr>{rows}</table>'


def write_training_report(
    history: TrainingHistory,
    html_path: str,
    png_path: str | None = None,
    validation: Assessment | None = None,
    context: dict | None = None,
    png_link: str | None = None,
    split: Mapping[str, Any] | None = None,
) -> None:
    """Write the training report: warnings, curves, validation scores, the split, per-epoch table, parameters.

    The curves go to ``png_path`` (default ``<html stem>_curves.png`` beside the
    HTML) and the page links them by relative path, so the pair can be moved
    together; ``png_link`` is the picture's final name when the files are
    written under temporary names first. ``context`` holds the training parameters; ``context["colors"]``
    colours the validation table as in :func:`write_accuracy_report`. ``split``
    is the split's summary; with it the page says how the validation was drawn
    and warns when the validation accuracy says little (:func:`validation_warnings`).
    """
    html_file = Path(html_path)
    png_file = Path(png_path) if png_path is not None else html_file.with_name(f"{html_file.stem}_curves.png")
    context = dict(context or {})
    body = "".join(
        f'<div class="warning"><strong>Warning:</strong> {_esc(text)}</div>'
        for text in (validation_warnings(history, validation, split) if split is not None else [])
    )
    body += (
        "<h2>Training curves</h2>"
        f'<img src="{_esc(_relative_url(Path(png_link or png_file), html_file.parent))}" width="1000" height="400" '
        'alt="Loss and accuracy per epoch">'
    )
    if validation is not None:
        colors = _class_colors(validation.class_ids, context.get("colors"))
        body += "<h2>Validation accuracy</h2>" + _assessment_html(validation, colors, heading_level=3)
    body += _split_html(split)
    body += "<h2>Epochs</h2>" + _history_html(history)
    body += _context_html(context, "Training parameters")
    page = _document("Training report", body)
    plot_training_curves(history, str(png_file))
    _atomic_write_text(html_file, page)

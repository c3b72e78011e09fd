"""Write a QGIS project (``.qgz``) without QGIS.

Headless runs (the CLI demo, batch jobs on a server) should still hand the
user a project that opens in QGIS with every layer styled: the classification
as a paletted layer with class names and colours, the HSI as a true-colour
composite, the DSM as a height ramp. QGIS is not importable there, so the
``.qgs`` XML is built here with ElementTree, in the structure QGIS 3.22
writes, and zipped as ``.qgz``. Layer sources are stored relative to the
project file so the folder can be moved or shared.
"""

from __future__ import annotations

import os
import re
import uuid
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import InputError
from .crs import gdal_errors
from .outputs import atomic_path
from .writers import hex_color

__all__ = ["ProjectLayer", "write_qgis_project"]

QGIS_VERSION = "3.22.0-Białowieża"
_STYLES = ("paletted", "gray", "rgb", "pseudocolor", "vector")
# A perceptually even ramp (viridis stops) for heights and other continuous values.
_RAMP = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")
_STRETCH_PERCENTILES = (2.0, 98.0)  # QGIS's default cumulative cut


@dataclass
class ProjectLayer:
    """One layer of the project and how QGIS should draw it.

    ``style``: "paletted" (``classes`` = (value, label, rgb)), "gray",
    "rgb" (``bands``, 1-based), "pseudocolor" or "vector" (``classes`` colour
    the features by their ``class`` field, matched on the label).
    ``minimum``/``maximum`` fix the stretch; left out, a 2-98 % cut of the data
    is used, as QGIS does.
    """

    path: str
    name: str
    style: str
    classes: list[tuple[int, str, tuple[int, ...]]] | None = None
    bands: tuple[int, int, int] | None = None
    minimum: float | None = None
    maximum: float | None = None
    visible: bool = True


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        element.text = text
    return element


def _srs_element(parent: ET.Element, crs_wkt: str) -> None:
    """<spatialrefsys> with WKT, and the authority code when GDAL recognises one."""
    srs = osr.SpatialReference()
    if srs.ImportFromWkt(crs_wkt) != 0:
        raise InputError(f"the project CRS is not a valid WKT definition: {crs_wkt[:80]}...")
    srs.AutoIdentifyEPSG()
    name, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    ref = _sub(parent, "spatialrefsys")
    _sub(ref, "wkt", srs.ExportToWkt(["FORMAT=WKT2_2018"]) or crs_wkt)
    _sub(ref, "proj4", srs.ExportToProj4() or "")
    _sub(ref, "srsid", "0")
    _sub(ref, "srid", code if name == "EPSG" and code else "0")
    _sub(ref, "authid", f"{name}:{code}" if name and code else "")
    _sub(ref, "description", srs.GetName() or "")
    _sub(ref, "projectionacronym", "")
    _sub(ref, "ellipsoidacronym", "")
    _sub(ref, "geographicflag", "true" if srs.IsGeographic() else "false")


def _source(path: str, project_dir: str) -> tuple[str, str]:
    """(absolute file, source as written in the project: relative, with any ``|option`` kept)."""
    file_part, sep, options = path.partition("|")
    absolute = os.path.abspath(file_part)
    try:
        relative = os.path.relpath(absolute, project_dir)
    except ValueError:  # another drive on Windows: keep it absolute
        relative = absolute
    if not os.path.isabs(relative) and not relative.startswith(".."):
        relative = "./" + relative
    return absolute, relative.replace(os.sep, "/") + sep + options


def _stretch(dataset: gdal.Dataset, band: int) -> tuple[float, float]:
    """2-98 % cut of one band, from a decimated read that skips nodata."""
    raster = dataset.GetRasterBand(band)
    scale = max(dataset.RasterXSize, dataset.RasterYSize) / 1024.0
    width = max(1, int(dataset.RasterXSize / max(scale, 1.0)))
    height = max(1, int(dataset.RasterYSize / max(scale, 1.0)))
    values = raster.ReadAsArray(buf_xsize=width, buf_ysize=height).astype(np.float64).ravel()
    nodata = raster.GetNoDataValue()
    keep = np.isfinite(values)
    if nodata is not None:
        keep &= values != nodata
    if not keep.any():
        return 0.0, 1.0
    low, high = np.percentile(values[keep], _STRETCH_PERCENTILES)
    return float(low), float(high if high > low else low + 1.0)


def _min_max_origin(renderer: ET.Element, fixed: bool) -> None:
    origin = _sub(renderer, "minMaxOrigin")
    _sub(origin, "limits", "None" if fixed else "CumulativeCut")
    _sub(origin, "extent", "WholeRaster")
    _sub(origin, "statAccuracy", "Estimated")
    _sub(origin, "cumulativeCutLower", f"{_STRETCH_PERCENTILES[0] / 100:g}")
    _sub(origin, "cumulativeCutUpper", f"{_STRETCH_PERCENTILES[1] / 100:g}")
    _sub(origin, "stdDevFactor", "2")


def _contrast(parent: ET.Element, tag: str, low: float, high: float) -> None:
    element = _sub(parent, tag)
    _sub(element, "minValue", repr(float(low)))
    _sub(element, "maxValue", repr(float(high)))
    _sub(element, "algorithm", "StretchToMinimumMaximum")


def _raster_pipe(layer: ProjectLayer, dataset: gdal.Dataset) -> ET.Element:
    """<pipe> with the renderer for the layer's style."""
    pipe = ET.Element("pipe")
    provider = _sub(pipe, "provider")
    _sub(
        provider,
        "resampling",
        enabled="false",
        maxOversampling="2",
        zoomedInResamplingMethod="nearestNeighbour",
        zoomedOutResamplingMethod="nearestNeighbour",
    )
    fixed = layer.minimum is not None and layer.maximum is not None
    common = {"opacity": "1", "alphaBand": "-1", "nodataColor": ""}

    def limits(band: int) -> tuple[float, float]:
        if fixed:
            return float(layer.minimum or 0.0), float(layer.maximum or 0.0)  # both set when fixed
        low, high = _stretch(dataset, band)
        return (
            float(layer.minimum) if layer.minimum is not None else low,
            float(layer.maximum) if layer.maximum is not None else high,
        )

    if layer.style == "paletted":
        if not layer.classes:
            raise InputError(f"the paletted layer {layer.name!r} needs its classes (value, label, colour)")
        renderer = _sub(pipe, "rasterrenderer", type="paletted", band="1", **common)
        _min_max_origin(renderer, True)
        palette = _sub(renderer, "colorPalette")
        for value, label, color in layer.classes:
            _sub(palette, "paletteEntry", value=str(int(value)), label=label, color=hex_color(color), alpha="255")
    elif layer.style == "rgb":
        bands = layer.bands or (1, 2, 3)
        if len(bands) != 3 or not all(1 <= b <= dataset.RasterCount for b in bands):
            raise InputError(
                f"the rgb layer {layer.name!r} asks for bands {bands}; {layer.path} has 1-{dataset.RasterCount}"
            )
        renderer = _sub(
            pipe,
            "rasterrenderer",
            type="multibandcolor",
            redBand=str(bands[0]),
            greenBand=str(bands[1]),
            blueBand=str(bands[2]),
            **common,
        )
        _min_max_origin(renderer, fixed)
        for band, colour in zip(bands, ("red", "green", "blue")):
            _contrast(renderer, f"{colour}ContrastEnhancement", *limits(band))
    elif layer.style == "gray":
        renderer = _sub(pipe, "rasterrenderer", type="singlebandgray", grayBand="1", gradient="BlackToWhite", **common)
        _min_max_origin(renderer, fixed)
        _contrast(renderer, "contrastEnhancement", *limits(1))
    else:  # pseudocolor
        low, high = limits(1)
        renderer = _sub(
            pipe,
            "rasterrenderer",
            type="singlebandpseudocolor",
            band="1",
            classificationMin=repr(low),
            classificationMax=repr(high),
            **common,
        )
        _min_max_origin(renderer, fixed)
        shader = _sub(
            _sub(renderer, "rastershader"),
            "colorrampshader",
            colorRampType="INTERPOLATED",
            classificationMode="1",
            clip="0",
            labelPrecision="2",
            minimumValue=repr(low),
            maximumValue=repr(high),
        )
        for value, ramp_color in zip(np.linspace(low, high, len(_RAMP)), _RAMP):
            _sub(shader, "item", value=repr(float(value)), label=f"{value:.2f}", color=ramp_color, alpha="255")
    _sub(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    _sub(
        pipe,
        "huesaturation",
        saturation="0",
        grayscaleMode="0",
        invertColors="0",
        colorizeOn="0",
        colorizeRed="255",
        colorizeGreen="128",
        colorizeBlue="128",
        colorizeStrength="100",
    )
    _sub(pipe, "rasterresampler", maxOversampling="2")
    _sub(pipe, "resamplingStage", "resamplingFilter")
    return pipe


def _symbol(parent: ET.Element, name: str, geometry: str, color: Sequence[int] | None) -> None:
    """A simple fill, line or marker symbol in the form QGIS reads."""
    kind, layer_class = {"polygon": ("fill", "SimpleFill"), "line": ("line", "SimpleLine")}.get(
        geometry, ("marker", "SimpleMarker")
    )
    fill = "{},{},{},255".format(*color) if color is not None else "0,0,0,0"
    outline = "0,0,0,255" if color is not None else "255,0,0,255"
    props = {
        "fill": {
            "color": fill,
            "outline_color": outline,
            "outline_style": "solid",
            "outline_width": "0.26",
            "outline_width_unit": "MM",
            "style": "solid" if color is not None else "no",
        },
        "line": {"line_color": fill if color is not None else outline, "line_width": "0.5", "line_width_unit": "MM"},
        "marker": {
            "color": fill if color is not None else outline,
            "name": "circle",
            "size": "2",
            "size_unit": "MM",
            "outline_color": "0,0,0,255",
        },
    }[kind]
    symbol = _sub(parent, "symbol", type=kind, name=name, alpha="1", clip_to_extent="1", force_rhr="0")
    symbol_layer = _sub(symbol, "layer", **{"class": layer_class, "pass": "0", "locked": "0", "enabled": "1"})
    options = _sub(symbol_layer, "Option", type="Map")
    for key, value in props.items():
        _sub(options, "Option", type="QString", name=key, value=value)


def _vector_renderer(layer: ProjectLayer, geometry: str) -> ET.Element:
    """Categorised on the ``class`` field when classes are given, else outlines only."""
    if not layer.classes:
        renderer = ET.Element("renderer-v2", type="singleSymbol", forceraster="0", symbollevels="0", enableorderby="0")
        _symbol(_sub(renderer, "symbols"), "0", geometry, None)
        return renderer
    renderer = ET.Element(
        "renderer-v2", type="categorizedSymbol", attr="class", forceraster="0", symbollevels="0", enableorderby="0"
    )
    categories = _sub(renderer, "categories")
    symbols = _sub(renderer, "symbols")
    for index, (_, label, color) in enumerate(layer.classes):
        _sub(categories, "category", value=label, label=label, symbol=str(index), render="true")
        _symbol(symbols, str(index), geometry, color)
    return renderer


def _extent(parent: ET.Element, xmin: float, ymin: float, xmax: float, ymax: float) -> None:
    extent = _sub(parent, "extent")
    for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), (xmin, ymin, xmax, ymax)):
        _sub(extent, tag, repr(float(value)))


def _layer_id(index: int, layer: ProjectLayer) -> str:
    """A stable id in QGIS's own form (name_uuid): QGIS replaces ids of 10 characters or fewer."""
    key = uuid.uuid5(uuid.NAMESPACE_URL, f"{index}|{layer.name}|{os.path.abspath(layer.path)}")
    slug = re.sub(r"[^0-9A-Za-z]+", "_", layer.name).strip("_") or "layer"
    return f"{slug}_{str(key).replace('-', '_')}"


def _map_layer(layer: ProjectLayer, layer_id: str, project_dir: str, crs_wkt: str) -> tuple[ET.Element, str, str]:
    """(<maplayer>, source as written, provider key) for one layer, after checking it opens."""
    if layer.style not in _STYLES:
        raise InputError(f"the layer {layer.name!r} has style {layer.style!r}; expected one of {', '.join(_STYLES)}")
    absolute, source = _source(layer.path, project_dir)
    if not os.path.exists(absolute):
        raise InputError(f"the layer {layer.name!r} points to {absolute}, which does not exist")
    element = ET.Element(
        "maplayer",
        styleCategories="AllStyleCategories",
        hasScaleBasedVisibilityFlag="0",
        maxScale="0",
        minScale="1e+08",
        autoRefreshEnabled="0",
        autoRefreshTime="0",
        refreshOnNotifyEnabled="0",
        refreshOnNotifyMessage="",
        legendPlaceholderImage="",
    )
    if layer.style == "vector":
        dataset = ogr.Open(absolute)
        if dataset is None:
            raise InputError(f"the vector layer {layer.name!r} cannot be opened: {absolute}")
        _, _, options = layer.path.partition("|")
        wanted = dict(o.split("=", 1) for o in options.split("|") if "=" in o).get("layername")
        vector = dataset.GetLayerByName(wanted) if wanted else dataset.GetLayer(0)
        if vector is None:
            raise InputError(f"the vector layer {layer.name!r}: {absolute} has no layer {wanted!r}")
        if not wanted and dataset.GetLayerCount() > 1:
            source += f"|layername={vector.GetName()}"
        flat = ogr.GT_Flatten(vector.GetGeomType())
        geometry = {
            ogr.wkbPolygon: "polygon",
            ogr.wkbMultiPolygon: "polygon",
            ogr.wkbLineString: "line",
            ogr.wkbMultiLineString: "line",
        }.get(flat, "point")
        element.set("type", "vector")
        element.set("geometry", {"polygon": "Polygon", "line": "Line", "point": "Point"}[geometry])
        element.set("wkbType", ogr.GeometryTypeToName(vector.GetGeomType()).replace(" ", ""))
        xmin, xmax, ymin, ymax = vector.GetExtent()
        provider = "ogr"
    else:
        dataset = gdal.Open(absolute)
        if dataset is None:
            raise InputError(f"the raster layer {layer.name!r} cannot be opened: {absolute}")
        element.set("type", "raster")
        x0, dx, _, y0, _, dy = dataset.GetGeoTransform()
        x1, y1 = x0 + dx * dataset.RasterXSize, y0 + dy * dataset.RasterYSize
        xmin, xmax, ymin, ymax = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        provider = "gdal"
    _extent(element, xmin, ymin, xmax, ymax)
    _sub(element, "id", layer_id)
    _sub(element, "datasource", source)
    _sub(element, "layername", layer.name)
    _srs_element(_sub(element, "srs"), crs_wkt)
    if provider == "ogr":
        _sub(element, "provider", "ogr", encoding="UTF-8")
        element.append(_vector_renderer(layer, geometry))
    else:
        _sub(element, "provider", "gdal")
        element.append(_raster_pipe(layer, dataset))
    _sub(element, "blendMode", "0")
    return element, source, provider


def _map_canvas(root: ET.Element, extents: list[ET.Element], crs_wkt: str) -> None:
    """The map view QGIS opens on: every layer in full (without it the canvas opens blank at 1:1)."""
    boxes = np.array(
        [[float(extent.findtext(tag, "nan")) for tag in ("xmin", "ymin", "xmax", "ymax")] for extent in extents]
    )
    xmin, ymin = boxes[:, 0].min(), boxes[:, 1].min()
    xmax, ymax = boxes[:, 2].max(), boxes[:, 3].max()
    geographic = osr.SpatialReference(wkt=crs_wkt).IsGeographic()
    canvas = _sub(root, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _sub(canvas, "units", "degrees" if geographic else "meters")
    _extent(canvas, xmin, ymin, xmax, ymax)
    _sub(canvas, "rotation", "0")
    _srs_element(_sub(canvas, "destinationsrs"), crs_wkt)
    _sub(canvas, "rendermaptile", "0")
    view = _sub(root, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    _sub(view, "Scales")
    default = _sub(
        view,
        "DefaultViewExtent",
        xmin=repr(float(xmin)),
        ymin=repr(float(ymin)),
        xmax=repr(float(xmax)),
        ymax=repr(float(ymax)),
    )
    _srs_element(default, crs_wkt)


def write_qgis_project(path: str, layers: list[ProjectLayer], crs_wkt: str, title: str = "") -> None:
    """Write ``path`` (``.qgz`` or ``.qgs``) holding ``layers`` styled for QGIS 3.22+.

    Layers are given in the order one would add them: the first is drawn at
    the bottom, the last on top. The file appears only once complete.
    """
    if not layers:
        raise InputError("a QGIS project needs at least one layer")
    path = os.path.abspath(path)
    project_dir = os.path.dirname(path)
    if not os.path.isdir(project_dir):
        raise InputError(f"cannot write the project {path}: the folder {project_dir} does not exist")
    stem = os.path.splitext(os.path.basename(path))[0]

    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    _sub(root, "homePath", path="")
    _sub(root, "title", title)
    _srs_element(_sub(root, "projectCrs"), crs_wkt)
    tree = _sub(root, "layer-tree-group")
    _sub(_sub(tree, "customproperties"), "Option")
    project_layers = _sub(root, "projectlayers")
    ids = [_layer_id(i, layer) for i, layer in enumerate(layers)]
    try:
        with gdal_errors():
            written = [_map_layer(layer, layer_id, project_dir, crs_wkt) for layer, layer_id in zip(layers, ids)]
    except RuntimeError as error:
        raise InputError(f"cannot read a layer for the project {path}: {error}") from error
    # The layer tree lists the top layer first.
    for layer, layer_id, (_, source, provider) in reversed(list(zip(layers, ids, written))):
        node = _sub(
            tree,
            "layer-tree-layer",
            id=layer_id,
            name=layer.name,
            source=source,
            providerKey=provider,
            checked="Qt::Checked" if layer.visible else "Qt::Unchecked",
            expanded="1",
            legend_exp="",
            legend_split_behavior="0",
            patch_size="-1,-1",
        )
        _sub(_sub(node, "customproperties"), "Option")
    for element, _, _ in written:
        project_layers.append(element)
    _map_canvas(root, [extent for element, _, _ in written if (extent := element.find("extent")) is not None], crs_wkt)
    order = _sub(root, "layerorder")
    for layer_id in reversed(ids):
        _sub(order, "layer", id=layer_id)
    properties = _sub(root, "properties")
    _sub(_sub(properties, "Paths"), "Absolute", "false", type="bool")
    # Without this flag QGIS ignores <projectCrs> and leaves the project without a CRS.
    _sub(_sub(properties, "SpatialRefSys"), "ProjectionsEnabled", "1", type="int")
    metadata = _sub(root, "projectMetadata")
    _sub(metadata, "title", title)

    ET.indent(root)
    document = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
    ).encode("utf-8")
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        if path.lower().endswith(".qgs"):
            stream.write(document)
        else:
            with zipfile.ZipFile(stream, "w", zipfile.ZIP_DEFLATED) as archive:
                archive.writestr(stem + ".qgs", document)

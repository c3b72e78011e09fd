"""Small seeded rasters and label layers written with GDAL/OGR for the core tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

UTM32 = 32632
# A 1 m grid in UTM 32N (near Trento); 40 x 30 pixels.
ORIGIN = (660000.0, 5100030.0)
PIXEL = 1.0

_TYPES = {
    np.dtype("uint8"): gdal.GDT_Byte,
    np.dtype("int16"): gdal.GDT_Int16,
    np.dtype("uint16"): gdal.GDT_UInt16,
    np.dtype("int32"): gdal.GDT_Int32,
    np.dtype("uint32"): gdal.GDT_UInt32,
    np.dtype("float32"): gdal.GDT_Float32,
    np.dtype("float64"): gdal.GDT_Float64,
}


def srs_wkt(epsg: int | None = UTM32, proj: str | None = None) -> str:
    """WKT of an EPSG code, or of a PROJ string when given."""
    srs = osr.SpatialReference()
    if proj is not None:
        srs.ImportFromProj4(proj)
    elif epsg is not None:
        srs.ImportFromEPSG(epsg)
    else:
        return ""
    return srs.ExportToWkt()


def geotransform(origin=ORIGIN, pixel=PIXEL) -> tuple[float, ...]:
    return (origin[0], pixel, 0.0, origin[1], 0.0, -pixel)


def write_raster(
    path: Path | str,
    data: np.ndarray,
    gt: Sequence[float] | None = None,
    crs: str | None = None,
    nodata: float | Sequence[float | None] | None = None,
    driver: str = "GTiff",
    descriptions: Sequence[str] | None = None,
) -> str:
    """Write (C, H, W) or (H, W) ``data``; ``gt``/``crs`` default to the UTM grid, ``crs=""`` for none."""
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    count, height, width = data.shape
    dataset = gdal.GetDriverByName(driver).Create(str(path), width, height, count, _TYPES[data.dtype])
    if gt is None:
        gt = geotransform()
    if gt != ():
        dataset.SetGeoTransform(tuple(gt))
    crs = srs_wkt() if crs is None else crs
    if crs:
        dataset.SetProjection(crs)
    values = nodata if isinstance(nodata, (list, tuple)) else [nodata] * count
    for i in range(count):
        band = dataset.GetRasterBand(i + 1)
        band.WriteArray(data[i])
        if values[i] is not None:
            band.SetNoDataValue(float(values[i]))
        if descriptions is not None:
            band.SetDescription(descriptions[i])
    dataset = None
    return str(path)


def hsi_cube(bands: int = 5, height: int = 30, width: int = 40, dtype="float32", seed: int = 0) -> np.ndarray:
    """A seeded random cube with values 100..1000, in ``dtype``."""
    rng = np.random.default_rng(seed)
    return rng.uniform(100, 1000, size=(bands, height, width)).astype(dtype)


def ramp(height: int, width: int, gt: Sequence[float], a: float = 2.0, b: float = -3.0, c: float = 500.0) -> np.ndarray:
    """A DSM that is linear in map coordinates, ``a*x' + b*y' + c`` with x', y' relative to ORIGIN,
    sampled at the pixel centres of ``gt``: bilinear resampling reproduces it exactly."""
    cols = np.arange(width) + 0.5
    rows = np.arange(height) + 0.5
    x = gt[0] + cols[None, :] * gt[1] + rows[:, None] * gt[2]
    y = gt[3] + cols[None, :] * gt[4] + rows[:, None] * gt[5]
    return ramp_at(x, y, a, b, c)


def ramp_at(x, y, a: float = 2.0, b: float = -3.0, c: float = 500.0) -> np.ndarray:
    return (a * (np.asarray(x) - ORIGIN[0]) + b * (np.asarray(y) - ORIGIN[1]) + c).astype(np.float32)


def pixel_centre(col: float, row: float, gt: Sequence[float] | None = None) -> tuple[float, float]:
    gt = gt or geotransform()
    return gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]


def write_vector(
    path: Path | str,
    features: Sequence[tuple[str, dict]],
    epsg: int | None = UTM32,
    driver: str = "GPKG",
    layer: str = "labels",
    fields: dict[str, int] | None = None,
) -> str:
    """Write features given as (WKT geometry, attributes), in order; ``fields`` maps names to OGR types."""
    data_source = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    srs = None
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    out = data_source.CreateLayer(layer, srs=srs, geom_type=ogr.wkbUnknown)
    if fields is None:
        fields = {}
        for _, attributes in features:
            for name, value in attributes.items():
                fields.setdefault(name, ogr.OFTString if isinstance(value, str) else ogr.OFTInteger)
    for name, kind in fields.items():
        out.CreateField(ogr.FieldDefn(name, kind))
    for wkt, attributes in features:
        feature = ogr.Feature(out.GetLayerDefn())
        for name, value in attributes.items():
            feature.SetField(name, value)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        out.CreateFeature(feature)
    data_source = None
    return str(path)


def box_wkt(col0: float, row0: float, col1: float, row1: float, gt: Sequence[float] | None = None) -> str:
    """Polygon WKT of the map rectangle between pixel corners (col0, row0) and (col1, row1)."""
    gt = gt or geotransform()
    x0, x1 = gt[0] + col0 * gt[1], gt[0] + col1 * gt[1]
    y0, y1 = gt[3] + row0 * gt[5], gt[3] + row1 * gt[5]
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def point_wkt(col: float, row: float, gt: Sequence[float] | None = None) -> str:
    x, y = pixel_centre(col - 0.5, row - 0.5, gt)
    return f"POINT ({x} {y})"


def with_band_nodata(source: Path | str, path: Path | str, nodata: Sequence[float | None]) -> str:
    """A VRT over ``source`` with one nodata value per band (GeoTIFF keeps only one for all bands)."""
    dataset = gdal.Translate(str(path), str(source), format="VRT")
    for i, value in enumerate(nodata):
        band = dataset.GetRasterBand(i + 1)
        if value is None:
            band.DeleteNoDataValue()
        else:
            band.SetNoDataValue(float(value))
    dataset = None
    return str(path)

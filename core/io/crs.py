"""Coordinate reference systems, and GDAL errors as exceptions around our own calls only.

QGIS and other plugins share the process and expect GDAL's default error handling,
so exceptions are switched on only inside ``gdal_errors``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from osgeo import gdal, ogr, osr

__all__ = ["gdal_errors", "srs_from_wkt", "describe_crs", "same_crs", "format_bounds"]


@contextmanager
def gdal_errors() -> Iterator[None]:
    """Raise GDAL/OGR/OSR errors as exceptions inside the block only.

    The host application (QGIS) owns the process-wide setting; we restore
    whatever it was, so our error handling never changes anyone else's.
    """
    modules = (gdal, ogr, osr)
    previous = [m.GetUseExceptions() for m in modules]
    for module in modules:
        module.UseExceptions()
    try:
        yield
    finally:
        # GDAL keeps one error-handler stack for the three modules: unwind it in reverse
        for module, was_on in reversed(list(zip(modules, previous))):
            if not was_on:
                module.DontUseExceptions()


def srs_from_wkt(wkt: str) -> osr.SpatialReference | None:
    """An SRS with x/y axis order (GDAL geotransforms are always easting/northing)."""
    if not wkt:
        return None
    srs = osr.SpatialReference()
    with gdal_errors():
        srs.SetFromUserInput(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def describe_crs(wkt: str) -> str:
    """A short CRS name for messages: ``EPSG:32632`` when known, else its name."""
    if not wkt:
        return "no CRS"
    try:
        srs = srs_from_wkt(wkt)
        if srs is None:
            raise RuntimeError(wkt)
        authority, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
        if not code:
            with gdal_errors():
                srs.AutoIdentifyEPSG()
            authority, code = srs.GetAuthorityName(None), srs.GetAuthorityCode(None)
    except RuntimeError:
        authority = code = None
        srs = None
    if authority and code:
        return f"{authority}:{code}"
    name = srs.GetName() if srs is not None else None
    return f'"{name}"' if name else "an unnamed CRS"


def same_crs(wkt_a: str, wkt_b: str) -> bool:
    """CRS equality by meaning: an EPSG code and the equivalent PROJ string are equal."""
    if not wkt_a or not wkt_b:
        return not wkt_a and not wkt_b
    if wkt_a == wkt_b:
        return True
    a, b = srs_from_wkt(wkt_a), srs_from_wkt(wkt_b)
    return a is not None and b is not None and bool(a.IsSame(b))


def format_bounds(bounds: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.10g}" for v in bounds) + ")"

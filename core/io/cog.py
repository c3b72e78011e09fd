"""Cloud Optimized GeoTIFFs: a finished GeoTIFF copied by GDAL's COG driver, with internal overviews.

GDAL writes a COG only as a copy of a complete raster (its tiles, overviews
and headers have to be laid out in one order), so a map is first written tile
by tile into an ordinary GeoTIFF and then converted. The copy keeps what the
GeoTIFF carries: georeferencing, nodata, band descriptions, the colour table
and category names.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

from osgeo import gdal

from .writers import checked_gdal_writes

__all__ = ["CLASS_RESAMPLING", "VALUE_RESAMPLING", "COG_BLOCK_SIZE", "cog_options", "write_cog"]

#: Overviews of a class map: the most frequent class of each block (an average of class ids would invent
#: classes, nearest would depend on which pixel falls first). Nodata pixels take no part.
CLASS_RESAMPLING = "MODE"
#: Overviews of probabilities, confidence and margin: the mean of each block's pixels with data.
VALUE_RESAMPLING = "AVERAGE"
#: Tile side of the COG, that of our GeoTIFFs and of web map tiles; overviews are made until one fits in a tile.
COG_BLOCK_SIZE = 256


def cog_options(resampling: str) -> list[str]:
    """Creation options: DEFLATE (read everywhere) with the predictor that suits the data type."""
    return [
        f"BLOCKSIZE={COG_BLOCK_SIZE}",
        "COMPRESS=DEFLATE",
        "PREDICTOR=YES",  # horizontal differencing for integers, floating-point for floats
        "BIGTIFF=IF_SAFER",
        "OVERVIEWS=AUTO",
        f"OVERVIEW_RESAMPLING={resampling}",
        "NUM_THREADS=ALL_CPUS",
    ]


def write_cog(source: str, destination: str, resampling: str, canceled: Callable[[], bool] | None = None) -> None:
    """Copy the GeoTIFF ``source`` into a COG at ``destination`` with overviews made by ``resampling``.

    ``canceled`` is asked while GDAL works; a yes stops the copy. Every failure (a full disk, a stop)
    is raised as OSError naming ``destination``; what the driver had written of it stays for the caller
    to remove.
    """

    def keep_going(fraction: float, message: str, data: object) -> int:
        return 0 if canceled is not None and canceled() else 1

    with checked_gdal_writes(destination):
        dataset = gdal.Translate(
            destination, source, format="COG", creationOptions=cog_options(resampling), callback=keep_going
        )
        if dataset is None:  # a stop at the last step is reported by nothing else
            raise OSError(errno.EIO, "the copy into a Cloud Optimized GeoTIFF stopped", destination)
        dataset.FlushCache()
        del dataset  # the last reference: the file and its sidecar (category names) are closed now

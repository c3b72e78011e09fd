"""Everything that touches QGIS: a thin adapter over ``core``."""

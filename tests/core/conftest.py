# The helpers in rasters.py are imported by the tests as a plain module.

"""Importing register data from GIS files (GeoPackage, Shapefile, GeoJSON, CSV)."""

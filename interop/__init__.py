"""Other systems' protocols: Open311 GeoReport v2, the 12345 hotline, OGC API Features."""

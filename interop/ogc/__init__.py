"""OGC API Features: query parameters, collections, the service description."""

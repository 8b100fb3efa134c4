"""Open311 GeoReport v2: services, service requests in and out, trusted clients."""

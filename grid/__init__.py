"""The register: regions, grid cells, workers and assignments, buildings, accounts."""

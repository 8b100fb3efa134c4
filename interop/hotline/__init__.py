"""12345 hotline work orders: reading, mapping onto gridgov, filing, results out."""

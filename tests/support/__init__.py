"""Real-component test support: the GDAL corpus, the rasterio oracle, S3 and HTTP servers."""

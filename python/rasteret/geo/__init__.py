"""Geometry and Arrow inputs: any geometry form a user passes -> GeoArrow arrays, their
envelopes and CRS transforms; any Arrow producer -> pyarrow. The lowest layer above the
error classes: records, reads and the public entry points all build on it."""

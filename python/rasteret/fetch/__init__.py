"""Tile-level COG access: header parsing (:mod:`rasteret.fetch.header_parser`) and windowed
tile reads (:mod:`rasteret.fetch.cog`), thin wrappers over rasteret's Rust core."""

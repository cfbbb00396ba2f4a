"""Collection and read machinery of rasteret."""

//! Read planner: windows per (record, band) -> tiles -> fetch -> decode -> place.

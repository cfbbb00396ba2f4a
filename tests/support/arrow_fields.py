"""Reading GeoArrow field types back from pyarrow, whether or not geoarrow is imported."""

from __future__ import annotations

import pyarrow as pa


def extension_name(field: pa.Field) -> str:
    """The Arrow extension name of ``field`` (``""`` when it has none).

    pyarrow keeps an imported field's ``ARROW:extension:name`` in the field metadata, unless
    a Python package registered that extension type (``geoarrow.pyarrow`` does on import, and
    rasteret's geometry inputs import it): then the field has the extension type instead.
    """
    found = (field.metadata or {}).get(b"ARROW:extension:name")
    if found:
        return found.decode()
    return str(getattr(field.type, "extension_name", "") or "")

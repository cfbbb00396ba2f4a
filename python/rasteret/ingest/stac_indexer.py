"""STAC ingest: search a STAC API (pystac-client) or walk a static catalog, resolve bands,
parse every asset header once through the Rust core, and build the collection table."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from rasteret.cloud import CloudConfig, rewrite_url
from rasteret.constants import BandRegistry
from rasteret.core.collection import Collection
from rasteret.ingest.base import CollectionBuilder
from rasteret.ingest.normalize import build_collection_from_table, normalize_crs_code, parse_epsg

logger = logging.getLogger(__name__)

__all__ = ["StacCollectionBuilder"]

_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
_RETRY_WORDS = (
    "maximum allowed time",
    "timed out",
    "timeout",
    "temporarily unavailable",
    "try again",
    "service unavailable",
)
_CRS_PROPS = ("proj:code", "proj:epsg", "crs", "proj:wkt2", "proj:projjson")


def _is_retryable_stac_api_error(exc: BaseException) -> bool:
    """Whether a pystac-client APIError is transient (HTTP 408/429/5xx or timeout wording)."""
    status = getattr(exc, "status_code", None)
    if status in _RETRY_STATUS:
        return True
    text = str(exc).lower()
    return any(w in text for w in _RETRY_WORDS)


def _key_list(keys: set[str], limit: int = 20) -> str:
    """Sorted asset keys joined by commas (the first ``limit``), ``<none>`` when empty."""
    if not keys:
        return "<none>"
    ordered = sorted(keys)
    shown = ", ".join(ordered[:limit])
    more = len(ordered) - limit
    return f"{shown}, ... (+{more} more)" if more > 0 else shown


def _item_dicts(items: Iterable[Any]) -> list[dict[str, Any]]:
    return [i if isinstance(i, dict) else i.to_dict(transform_hrefs=False) for i in items]


class StacCollectionBuilder(CollectionBuilder):
    """Index a STAC collection (API or static catalog) into a rasteret Collection."""

    def __init__(
        self,
        data_source: str,
        stac_api: str,
        stac_collection: str | None = None,
        workspace_dir: str | Path | None = None,
        name: str | None = None,
        band_map: dict[str, str] | None = None,
        band_index_map: dict[str, int] | None = None,
        cloud_config: CloudConfig | None = None,
        max_concurrent: int = 300,
        backend: Any | None = None,
        static_catalog: bool = False,
        strict_band_map_validation: bool = False,
        shards: int | None = None,
    ) -> None:
        super().__init__(name=name or "", data_source=data_source, workspace_dir=workspace_dir)
        self.stac_api = stac_api
        self.stac_collection = stac_collection
        self._band_map = band_map
        self.band_index_map = band_index_map
        self.cloud_config = cloud_config
        self.max_concurrent = max_concurrent
        self.backend = backend
        self.static_catalog = static_catalog
        self.strict_band_map_validation = strict_band_map_validation
        #: parse the headers in this many Dask tasks (None: on this thread)
        self.shards = shards

    @property
    def band_map(self) -> dict[str, str]:
        """The explicit band map, else the one registered for ``data_source``."""
        return self._band_map or BandRegistry.get(self.data_source)

    def build(self, **kwargs: Any) -> Collection:
        """Synchronous :meth:`build_index` (``bbox``, ``date_range``, ``query``)."""
        return self.build_collection(**kwargs)

    # -- 1/2: find items -------------------------------------------------------------------

    def _search_api(
        self, bbox: list[float] | None, date_range: tuple[str, str] | None, query: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from pystac_client import Client
        from pystac_client.exceptions import APIError

        max_items = query.pop("max_items", None)
        limit = 1000 if max_items is None else min(max(int(max_items), 1), 1000)
        params: dict[str, Any] = {"collections": [self.stac_collection], "limit": limit}
        if bbox is not None:
            params["bbox"] = bbox
        if date_range is not None:
            params["datetime"] = f"{date_range[0]}/{date_range[1]}"
        if query:
            params["query"] = query
        if max_items is not None:
            params["max_items"] = int(max_items)
        for attempt in range(3):
            try:
                client = Client.open(self.stac_api)
                return _item_dicts(client.search(**params).items())
            except APIError as exc:
                if attempt == 2 or not _is_retryable_stac_api_error(exc):
                    raise
                time.sleep(1 + attempt)
        return []

    def _walk_static(
        self,
        bbox: list[float] | None,
        date_range: tuple[str, str] | None,
        query: dict[str, Any],
        headers_out: list[pa.RecordBatch] | None = None,
    ) -> list[dict[str, Any]]:
        """The items of the static catalog ``stac_api`` (narrowed to its child ``data_source``
        when it has one) that overlap ``bbox`` and fall in ``date_range``, in pystac's
        recursive ``get_items`` order; documents are fetched concurrently by the engine.

        Without ``max_items``, pystac parses fetched batches on a worker thread while the
        engine fetches the next ones, and, with ``headers_out``, the COG headers of the
        items parsed so far are read (appended there) while the last batches are parsed,
        once the band map no longer depends on the items still to come.
        """
        from contextlib import closing

        from rasteret._backends import AutoRoutingBackend, io_options
        from rasteret.ingest.static_catalog import iter_static_items, static_item_batches

        max_items = query.get("max_items")
        # an auto-routing backend (URL rewrites, signing) applies to the catalog documents
        # too; a custom reader serves the assets only (documents use the engine's routing)
        native = self.backend if isinstance(self.backend, AutoRoutingBackend) else None
        concurrent = max(1, int(self.max_concurrent))
        options = io_options(native, max_concurrent=concurrent)
        child_id = self.data_source or None
        if max_items is None:
            batches = static_item_batches(
                self.stac_api,
                lambda item: _static_item_dict(item, bbox, date_range),
                child_id=child_id,
                options=options,
                batch_size=max(concurrent, 100),
            )
            with closing(batches):
                return self._gather(batches, headers_out)
        found = iter_static_items(
            self.stac_api,
            child_id=child_id,
            options=options,
            batch_size=max(int(max_items), concurrent),
        )
        out: list[dict[str, Any]] = []
        with closing(found):
            for item in found:
                d = _static_item_dict(item, bbox, date_range)
                if d is None:
                    continue
                out.append(d)
                if len(out) >= int(max_items):
                    break
        return out

    def _gather(
        self, batches: Iterable[Any], headers_out: list[pa.RecordBatch] | None
    ) -> list[dict[str, Any]]:
        """The items of ``batches`` (:func:`static_item_batches`); before waiting for a batch
        still being parsed, the headers of the items gathered so far are parsed into
        ``headers_out`` when their band map is settled."""
        from rasteret.ingest.enrich import parse_asset_headers

        out: list[dict[str, Any]] = []
        pending: list[dict[str, Any]] = []
        keys: set[str] = set()
        asked: set[str] = set()
        for batch in batches:
            if headers_out is not None and pending and not batch.done():
                urls = self._settled_urls(pending, keys)
                if urls is not None:
                    pending.clear()
                    new = [u for u in dict.fromkeys(urls) if u not in asked]
                    asked.update(new)
                    if new:
                        headers_out.append(
                            parse_asset_headers(new, self.max_concurrent, self.backend)
                        )
            got = [d for d in batch.result() if d is not None]
            out.extend(got)
            pending.extend(got)
        return out

    def _settled_urls(self, items: list[dict[str, Any]], keys: set[str]) -> list[str] | None:
        """The asset URLs the build will read for ``items``, or None while they may still
        change: the band map is inferred from every item's assets (or would fail), or the
        assets are signed after the walk. ``keys`` gathers the asset keys seen so far."""
        keys.update(k for it in items for k in (it.get("assets") or {}))
        signed = "planetarycomputer.microsoft.com" in self.stac_api and self.backend is None
        if signed or not self.band_map:
            return None
        try:
            # an explicit or registered band map resolves to itself once any (strict: every)
            # asset key it names has been seen: more items cannot change it
            band_map = self._resolve_band_map(keys)
        except ValueError:
            return None
        shared = len(set(band_map.values())) < len(band_map)
        if shared and not self.band_index_map:
            return None  # the build refuses this band map
        return [a["href"] for it in items for a in self._band_assets(it, band_map).values()]

    # -- 6/7: bands --------------------------------------------------------------------------

    def _resolve_band_map(self, asset_keys: set[str]) -> dict[str, str]:
        explicit = self._band_map
        if explicit and self.strict_band_map_validation:
            missing = set(explicit.values()) - asset_keys
            if missing:
                raise ValueError(
                    "STAC band_map references asset keys not present in the selected STAC "
                    f"items. Missing asset keys: {_key_list(missing)}. Configured asset keys: "
                    f"{_key_list(set(explicit.values()))}. Detected asset keys: "
                    f"{_key_list(asset_keys)}. Individual items may omit valid bands, but "
                    "every configured asset key must appear at least once in the selected "
                    "result."
                )
        resolved = self.band_map
        if resolved:
            if any(v in asset_keys for v in resolved.values()):
                return dict(resolved)
            raise ValueError(
                "No STAC asset keys matched the resolved band_map. "
                f"band_map asset keys: {sorted(set(resolved.values()))}; "
                f"item asset keys: {sorted(asset_keys)}"
            )
        best: dict[str, str] = {}
        sources = [self.data_source, self.stac_collection or "", *BandRegistry.list_registered()]
        for source in sources:
            provider = BandRegistry.get(source) if source else {}
            candidate = {b: a for b, a in provider.items() if a in asset_keys}
            identity = {b: b for b in provider if b in asset_keys}
            for c in (candidate, identity):
                if len(c) > len(best):
                    best = c
        if not best:
            raise ValueError(
                "No band_map is configured for this STAC source, and Rasteret could not infer "
                f"one from the item asset keys {sorted(asset_keys)}. Pass band_map={{...}}."
            )
        return best

    # -- the build ---------------------------------------------------------------------------

    async def build_index(
        self,
        bbox: list[float] | None = None,
        date_range: tuple[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Collection:
        """Search, resolve bands, parse headers, normalise and export the collection (the
        awaitable form of :meth:`build_collection`; the work runs on the calling thread, so
        Ctrl-C interrupts it)."""
        return self.build_collection(bbox, date_range, query)

    def build_collection(
        self,
        bbox: list[float] | None = None,
        date_range: tuple[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Collection:
        """Search, resolve bands, parse headers, normalise and export the collection."""
        q = dict(query or {})
        parsed: list[pa.RecordBatch] = []  # headers read while the walk was still parsing
        if self.static_catalog:  # engine calls on this thread, so Ctrl-C interrupts them
            # a sharded build parses every header in its Dask tasks: none early here
            early = parsed if self.shards is None else None
            items = self._walk_static(bbox, date_range, q, early)
        else:
            items = self._search_api(bbox, date_range, q)
        if "planetarycomputer.microsoft.com" in self.stac_api and self.backend is None:
            items = self._sign_planetary_computer(items)
        if not items:
            raise ValueError(
                f"No STAC scenes matched the request (bbox={bbox}, date_range={date_range}, "
                f"query={query})."
            )
        asset_keys = {k for it in items for k in (it.get("assets") or {})}
        band_map = self._resolve_band_map(asset_keys)
        by_asset: dict[str, list[str]] = {}
        for band, key in band_map.items():
            by_asset.setdefault(key, []).append(band)
        if any(len(b) > 1 for b in by_asset.values()) and not self.band_index_map:
            raise NotImplementedError(
                "Multiple requested bands map to the same STAC asset key, but no "
                "band_index_map was provided. Pass band_index_map={band: sample_index}."
            )
        table = self._records(items, band_map)
        bands = list(band_map)
        try:
            table = self._enrich(table, bands, parsed)
        except ValueError as exc:
            if "failed for all assets" in str(exc):
                raise ValueError(f"COG header enrichment produced no band metadata. {exc}") from exc
            if "Conflicting CRS values" in str(exc):
                raise ValueError(
                    f"Conflicting CRS values detected during STAC enrichment: {exc}"
                ) from exc
            raise
        table = self._drop_failed_assets(table, bands)
        missing_crs = (
            [
                rid
                for rid, e in zip(
                    table.column("id").to_pylist(),
                    table.column("proj:epsg").to_pylist(),
                    strict=True,
                )
                if e is None
            ]
            if "proj:epsg" in table.column_names
            else table.column("id").to_pylist()
        )
        if missing_crs:
            raise ValueError(
                "Raster CRS could not be resolved for selected STAC items. Add proj:code/"
                f"proj:epsg to the items or fix the COG GeoKeys. Missing CRS record ids: "
                f"{missing_crs[:20]}"
            )
        start = end = None
        if date_range is not None:
            start, end = date_range
        collection = build_collection_from_table(
            table,
            name=self.name or "",
            description=f"STAC collection indexed from {self.data_source}",
            data_source=self.data_source,
            date_range=(start, end) if start and end else None,
            workspace_dir=self.workspace_dir,
        )
        return collection

    def _enrich(self, table: pa.Table, bands: list[str], parsed: list[pa.RecordBatch]) -> pa.Table:
        """``table`` with the ``{band}_metadata`` columns of ``bands``: parsed here (reusing
        the headers already ``parsed`` during the walk), or by ``shards`` Dask tasks writing
        parts beside the collection (the search stays here)."""
        from rasteret.ingest.enrich import build_url_index_from_assets, enrich_records
        from rasteret.ingest.sharded import enrich_in_shards

        url_index = build_url_index_from_assets(table, bands)
        if self.shards is None or not url_index:
            return enrich_records(
                table,
                url_index,
                bands,
                max_concurrent=self.max_concurrent,
                backend=self.backend,
                parsed=parsed,
            )
        return enrich_in_shards(
            table,
            self.shards,
            workspace_dir=self.workspace_dir,
            band_codes=bands,
            max_concurrent=self.max_concurrent,
            backend=self.backend,
        )

    def _sign_planetary_computer(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            import planetary_computer
        except ImportError as exc:
            raise ValueError(
                "Planetary Computer assets need signing: install rasteret[azure] "
                "(planetary-computer) or pass backend=."
            ) from exc
        try:
            return [planetary_computer.sign(it) for it in items]
        except Exception as exc:  # noqa: BLE001 - the SDK raises requests/HTTP errors
            if "429" in str(exc):
                raise ValueError(
                    "Planetary Computer rate-limited the SAS token requests (HTTP 429): use "
                    "max_items, set PC_SDK_SUBSCRIPTION_KEY, or pass a backend with "
                    "PlanetaryComputerCredentialProvider."
                ) from exc
            raise ValueError(f"Planetary Computer signing failed: {exc}") from exc

    def _band_assets(
        self, item: dict[str, Any], band_map: dict[str, str]
    ) -> dict[str, dict[str, Any]]:
        """``{band: {"href", "band_index"}}`` of ``item``'s assets named by ``band_map``."""
        assets = item.get("assets") or {}
        out: dict[str, dict[str, Any]] = {}
        for band, key in band_map.items():
            asset = assets.get(key)
            if not asset or not asset.get("href"):
                continue
            href = rewrite_url(asset["href"], self.cloud_config)
            s3 = assets.get(f"s3_{key}")
            if self.backend is not None and s3 and str(s3.get("href", "")).startswith("s3://"):
                href = s3["href"]
            index = (self.band_index_map or {}).get(band, 0)
            out[band] = {"href": href, "band_index": int(index)}
        return out

    def _records(self, items: list[dict[str, Any]], band_map: dict[str, str]) -> pa.Table:
        import shapely.geometry

        rows: list[dict[str, Any]] = []
        for it in items:
            props = dict(it.get("properties") or {})
            assets_out = self._band_assets(it, band_map)
            epsg, code = None, None
            for p in _CRS_PROPS:
                if props.get(p) is not None:
                    epsg = parse_epsg(props[p])
                    code = normalize_crs_code(props[p])
                    if epsg is not None or code is not None:
                        break
            geometry = it.get("geometry")
            geom = shapely.geometry.shape(geometry) if geometry else None
            bbox = it.get("bbox") or (list(geom.bounds) if geom is not None else None)
            when = props.pop("datetime", None) or props.get("start_datetime")
            row = {k: v for k, v in props.items() if k not in _CRS_PROPS}
            row.update(
                {
                    "id": it["id"],
                    "datetime": None if when is None else _parse_dt(when),
                    "geometry": None if geom is None else geom.wkb,
                    "assets": assets_out,
                    "proj:epsg": epsg,
                    "crs": code if epsg is None else f"EPSG:{epsg}",
                    "collection": it.get("collection") or self.stac_collection,
                    "bbox": _bbox_struct(bbox),
                }
            )
            rows.append(row)
        return _rows_to_table(rows, list(band_map))

    @staticmethod
    def _drop_failed_assets(table: pa.Table, bands: list[str]) -> pa.Table:
        """Keep only successfully parsed bands in ``assets``."""
        assets = table.column("assets").to_pylist()
        metas = {b: table.column(f"{b}_metadata").is_null().to_pylist() for b in bands}
        cleaned = [
            {b: a for b, a in (row or {}).items() if b in metas and not metas[b][i]}
            for i, row in enumerate(assets)
        ]
        idx = table.schema.get_field_index("assets")
        return table.set_column(idx, "assets", pa.array(cleaned, type=_assets_type(bands)))


def _static_item_dict(
    item: Any, bbox: list[float] | None, date_range: tuple[str, str] | None
) -> dict[str, Any] | None:
    """A walked ``pystac.Item`` as the dict the build reads (asset hrefs made absolute), or
    None when it misses ``bbox`` or falls outside ``date_range``."""
    item.make_asset_hrefs_absolute()
    d = item.to_dict(transform_hrefs=False)
    if bbox is not None and d.get("bbox"):
        ib = d["bbox"]
        if ib[2] < bbox[0] or ib[0] > bbox[2] or ib[3] < bbox[1] or ib[1] > bbox[3]:
            return None
    if date_range is not None:
        when = d.get("properties", {}).get("datetime") or ""
        if not (date_range[0] <= when <= f"{date_range[1]}T23:59:59Z"):
            return None
    return d


def _bbox_struct(bbox: list[float] | None) -> dict[str, float] | None:
    if not bbox or len(bbox) not in (4, 6):
        return None
    xmin, ymin, xmax, ymax = (
        (bbox[0], bbox[1], bbox[2], bbox[3])
        if len(bbox) == 4
        else (
            bbox[0],
            bbox[1],
            bbox[3],
            bbox[4],
        )
    )
    return {"xmin": float(xmin), "ymin": float(ymin), "xmax": float(xmax), "ymax": float(ymax)}


def _parse_dt(value: str) -> _dt.datetime:
    d = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if d.tzinfo is not None:
        d = d.astimezone(_dt.UTC).replace(tzinfo=None)
    return d


def _assets_type(bands: list[str]) -> pa.DataType:
    one = pa.struct([("href", pa.string()), ("band_index", pa.int64())])
    return pa.struct([(b, one) for b in bands])


def _rows_to_table(rows: list[dict[str, Any]], bands: list[str]) -> pa.Table:
    fixed = {
        "id": pa.string(),
        "datetime": pa.timestamp("us"),
        "geometry": pa.binary(),
        "assets": _assets_type(bands),
        "proj:epsg": pa.int32(),
        "crs": pa.string(),
        "collection": pa.string(),
        "bbox": pa.struct([(n, pa.float64()) for n in ("xmin", "ymin", "xmax", "ymax")]),
    }
    columns: dict[str, pa.Array] = {}
    for name, typ in fixed.items():
        columns[name] = pa.array([r.get(name) for r in rows], type=typ)
    extra = sorted({k for r in rows for k in r} - set(fixed))
    for name in extra:
        values = [r.get(name) for r in rows]
        try:
            columns[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            import json

            columns[name] = pa.array(
                [None if v is None else json.dumps(v) for v in values], pa.string()
            )
    return pa.table(columns)

"""Walk a static STAC catalog: documents fetched concurrently through the engine, parsed by
pystac.

The crawl is breadth-first: each level of catalog/collection documents is fetched in one
concurrent engine call (bounded by ``max_concurrent``, retried like range reads, any backend the
engine routes: local paths, ``file://``, ``http(s)://``, ``s3://``, ``gs://``...), then the item
documents in batches. Relative link hrefs resolve against the linking document's own URL, as
pystac resolves them. Items come in the order of pystac's recursive ``get_items``: a catalog's
own items (link order), then each child's items, depth first. Each catalog document is fetched
and walked once: a link back to a catalog already reached (a cycle) is skipped.

:func:`static_item_batches` overlaps the two costs of the item documents: while the engine
fetches one batch (on the calling thread, one engine call at a time, so at most
``max_concurrent`` requests are in flight), a worker thread parses the previous batch with
pystac and converts its items for the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

import pystac
from pystac.utils import is_absolute_href, make_absolute_href, make_posix_style

from rasteret.options import get_options
from rasteret.read import engine as _read

__all__ = ["MAX_DEPTH", "ItemBatch", "iter_static_items", "static_item_batches"]

#: Catalog levels below the root followed at most (a deeper chain of child links is an error).
MAX_DEPTH = 64

T = TypeVar("T")


def _absolute_root(href: str) -> str:
    """``href`` as pystac's ``from_file`` takes it: POSIX style, absolute."""
    href = make_posix_style(href)
    return href if is_absolute_href(href) else make_absolute_href(href)


def _decode(
    urls: list[str], bodies: list[bytes | BaseException], what: str, linked_from: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """``(url, JSON document)`` of each of ``urls`` from its fetched body, in order.

    Raises
    ------
    rasteret.errors.RemoteNotFoundError
        (or the class of the failure) A document could not be read; the message names it and
        the document linking to it.
    ValueError
        A document is not a JSON object.
    """
    docs: list[tuple[str, dict[str, Any]]] = []
    for url, body in zip(urls, bodies, strict=True):
        parent = linked_from.get(url)
        where = f"{what} {url}" + (f" (linked from {parent})" if parent else "")
        if isinstance(body, BaseException):
            detail = str(body).removeprefix(f"{url}: ")
            raise type(body)(f"static STAC catalog: cannot read {where}: {detail}") from body
        try:
            doc = json.loads(body)
        except ValueError as exc:
            raise ValueError(f"static STAC catalog: {where} is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ValueError(f"static STAC catalog: {where} is not a JSON object")
        docs.append((url, doc))
    return docs


def _fetch(
    urls: list[str], options: dict[str, Any], what: str, linked_from: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """:func:`_decode` of ``urls`` fetched in one concurrent engine call."""
    return _decode(urls, _read.fetch_objects(urls, options=options), what, linked_from)


class _Consumed(dict[str, Any]):
    """A decoded document handed over to pystac: the deep copy pystac's migration starts with
    (``migrate_to_latest``) is the document itself, migrated in place, as nothing else holds
    it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> _Consumed:
        return self


def _parse(
    stac_io: pystac.StacIO, doc: dict[str, Any], url: str, root: pystac.Catalog | None, what: str
) -> Any:
    """``doc`` as the pystac object pystac resolves ``url`` to (self href ``url``); ``doc`` is
    consumed.

    A STAC 1.x item goes straight to ``pystac.Item.from_dict``: ``StacIO.stac_object_from_dict``
    would migrate it twice (the second time a no-op) and, for STAC 1.x, do nothing else.
    """
    doc = _Consumed(doc)
    try:
        if doc.get("type") == "Feature" and not str(doc.get("stac_version", "")).startswith("0."):
            obj = pystac.Item.from_dict(doc, href=url, root=root, preserve_dict=False)
        else:
            obj = stac_io.stac_object_from_dict(doc, href=url, root=root, preserve_dict=False)
    except Exception as exc:  # noqa: BLE001 - pystac raises several unrelated classes
        raise ValueError(f"static STAC catalog: {what} {url} is not a STAC object: {exc}") from exc
    if obj.get_self_href() != url:
        obj.set_self_href(url)
    return obj


def _links(obj: pystac.Catalog, rel: str) -> list[str]:
    """Absolute hrefs of ``obj``'s links of relation ``rel``, in link order."""
    return [href for link in obj.links if link.rel == rel and (href := link.get_absolute_href())]


class _Crawl:
    """The catalog documents reached so far (by URL) and how to fetch more."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        self.catalogs: dict[str, pystac.Catalog] = {}
        self.expanded: set[str] = set()
        self.root: pystac.Catalog | None = None
        self.stac_io = pystac.StacIO.default()

    def open_root(self, href: str) -> pystac.Catalog:
        """Fetch and parse the root document; it becomes the items' root when its ``root``
        link points at itself (as ``pystac.Catalog.from_file`` decides)."""
        ((_, doc),) = _fetch([href], self.options, "root catalog", {})
        catalog = self._catalog(doc, href, "root catalog")
        root_link = catalog.get_root_link()
        if root_link is not None and root_link.get_absolute_href() == href:
            catalog.set_root(catalog)
            self.root = catalog
        return catalog

    def _catalog(self, doc: dict[str, Any], url: str, what: str) -> pystac.Catalog:
        obj = _parse(self.stac_io, doc, url, self.root, what)
        if not isinstance(obj, pystac.Catalog):
            raise ValueError(
                f"static STAC catalog: {what} {url} is a {type(obj).__name__}, "
                "not a catalog or collection"
            )
        self.catalogs[url] = obj
        return obj

    def fetch_catalogs(self, linked_from: dict[str, str]) -> None:
        """Fetch the catalogs of ``linked_from`` (URL -> linking catalog) not fetched yet, in
        one engine call."""
        wanted = [url for url in linked_from if url not in self.catalogs]
        if not wanted:
            return
        for url, doc in _fetch(wanted, self.options, "catalog", linked_from):
            self._catalog(doc, url, "catalog")

    def walk_below(self, level: list[str]) -> None:
        """Fetch every catalog below the (fetched) catalogs ``level``, a level per engine call;
        a catalog's children are looked up once, so cycles end."""
        depth = 0
        while level:
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(
                    f"static STAC catalog: child catalogs nest more than {MAX_DEPTH} levels "
                    f"(at {level[0]})"
                )
            self.expanded.update(level)
            linked_from: dict[str, str] = {}
            for parent in level:
                for child in _links(self.catalogs[parent], "child"):
                    if child not in self.expanded:
                        linked_from.setdefault(child, parent)
            self.fetch_catalogs(linked_from)
            level = list(linked_from)

    def item_links(self, start: str) -> list[tuple[str, str]]:
        """``(item URL, linking catalog URL)`` in pystac's recursive ``get_items`` order."""
        out: list[tuple[str, str]] = []
        seen: set[str] = set()

        def visit(url: str) -> None:
            seen.add(url)
            catalog = self.catalogs[url]
            out.extend((item, url) for item in _links(catalog, "item"))
            for child in _links(catalog, "child"):
                if child not in seen and child in self.catalogs:
                    visit(child)

        visit(start)
        return out

    def _parse_items(
        self, docs: list[tuple[str, dict[str, Any]]], linked_from: dict[str, str]
    ) -> dict[str, pystac.Item]:
        """The fetched item documents ``docs`` parsed by pystac, by URL."""
        parsed: dict[str, pystac.Item] = {}
        for url, doc in docs:
            item = _parse(self.stac_io, doc, url, self.root, "item")
            if not isinstance(item, pystac.Item):
                raise ValueError(
                    f"static STAC catalog: item link {url} (from {linked_from[url]}) "
                    f"leads to a {type(item).__name__}, not an item"
                )
            parsed[url] = item
        return parsed

    def _fetch_items(
        self, batch: list[tuple[str, str]], known: Any, bar: Any | None, done: int
    ) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]:
        """The item documents of ``batch`` whose URL is not in ``known`` (one engine call),
        decoded, and the linking catalog of each."""
        linked_from: dict[str, str] = {}
        for url, parent in batch:
            if url not in known:
                linked_from.setdefault(url, parent)
        wanted = list(linked_from)
        if not wanted:
            return [], linked_from

        def progress(n: int) -> None:
            if bar is not None:
                bar.n = done + n
                bar.refresh()

        bodies = _read.fetch_objects(wanted, options=self.options, progress=progress)
        return _decode(wanted, bodies, "item", linked_from), linked_from

    def items(
        self, links: list[tuple[str, str]], batch_size: int, bar: Any | None
    ) -> Iterator[pystac.Item]:
        """The items at ``links``, fetched ``batch_size`` links per engine call (a batch once
        the previous one has been consumed)."""
        parsed: dict[str, pystac.Item] = {}
        for start in range(0, len(links), batch_size):
            batch = links[start : start + batch_size]
            docs, linked_from = self._fetch_items(batch, parsed, bar, len(parsed))
            parsed.update(self._parse_items(docs, linked_from))
            yield from (parsed[url] for url, _ in batch)

    def converted(
        self,
        links: list[tuple[str, str]],
        batch_size: int,
        convert: Callable[[pystac.Item], T],
        bar: Any | None,
    ) -> Iterator[ItemBatch[T]]:
        """Every item document at ``links`` fetched, ``batch_size`` links per engine call on
        this thread, each batch parsed and converted on a worker thread while the next one is
        fetched; then the batches, in link order."""
        owner: dict[str, Future[dict[str, T]]] = {}
        batches: list[ItemBatch[T]] = []

        def parse_and_convert(
            docs: list[tuple[str, dict[str, Any]]], linked_from: dict[str, str]
        ) -> dict[str, T]:
            return {u: convert(i) for u, i in self._parse_items(docs, linked_from).items()}

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rasteret-stac-items")
        try:
            for start in range(0, len(links), batch_size):
                batch = links[start : start + batch_size]
                docs, linked_from = self._fetch_items(batch, owner, bar, len(owner))
                future = pool.submit(parse_and_convert, docs, linked_from)
                owner.update(dict.fromkeys(linked_from, future))
                batches.append(ItemBatch([u for u, _ in batch], owner))
            yield from batches
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


class ItemBatch(Generic[T]):
    """One batch of :func:`static_item_batches`: its items, converted, once parsed."""

    def __init__(self, urls: list[str], owner: dict[str, Future[dict[str, T]]]) -> None:
        self.urls = urls
        self._futures = list({id(owner[u]): owner[u] for u in urls}.values())
        self._owner = owner

    def done(self) -> bool:
        """Whether :meth:`result` returns without waiting."""
        return all(f.done() for f in self._futures)

    def result(self) -> list[T]:
        """The converted items, in link order (waits for their parse; re-raises its error)."""
        return [self._owner[u].result()[u] for u in self.urls]


def _start(
    href: str, child_id: str | None, options: dict[str, Any] | None
) -> tuple[_Crawl, list[tuple[str, str]]]:
    """Fetch the catalogs (narrowed to the root's child ``child_id`` when it has one); the
    crawl and its item links in pystac's recursive ``get_items`` order."""
    crawl = _Crawl(dict(options or {}))
    root_url = _absolute_root(href)
    root = crawl.open_root(root_url)
    start = root_url
    if child_id:
        # as pystac's get_child: the children whose href names the id first, then the rest
        children = _links(root, "child")
        for group in ([u for u in children if child_id in u], children):
            crawl.fetch_catalogs(dict.fromkeys(group, root_url))
            found = next((u for u in group if crawl.catalogs[u].id == child_id), None)
            if found is not None:
                start = found
                break
    crawl.walk_below([start])
    return crawl, crawl.item_links(start)


def _items_bar(links: list[tuple[str, str]]) -> Any | None:
    if not (get_options().progress and links):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(dict.fromkeys(u for u, _ in links)), desc="STAC items", unit="doc")


def iter_static_items(
    href: str,
    *,
    child_id: str | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int | None = None,
) -> Generator[pystac.Item, None, None]:
    """The items of the static catalog at ``href``, each a ``pystac.Item`` with its self href.

    Parameters
    ----------
    href
        Root ``catalog.json`` (local path, ``file://``, ``http(s)://``, ``s3://``...).
    child_id
        Narrow to the root's child catalog/collection with this id when it has one.
    options
        Engine I/O options (``max_concurrent``, ``backend``, retries...).
    batch_size
        Item links fetched per engine call, a batch only once the previous one has been
        consumed (for callers that stop early); all at once when None.

    Raises
    ------
    rasteret.errors.RemoteNotFoundError
        (or the class of the failure) A document cannot be read (the message names it and
        the catalog linking to it).
    ValueError
        A document is not STAC JSON of the expected type, or catalogs nest too deep.
    """
    crawl, links = _start(href, child_id, options)
    bar = _items_bar(links)
    try:
        yield from crawl.items(links, batch_size or max(len(links), 1), bar)
    finally:
        if bar is not None:
            bar.close()


def static_item_batches(
    href: str,
    convert: Callable[[pystac.Item], T],
    *,
    child_id: str | None = None,
    options: dict[str, Any] | None = None,
    batch_size: int = 200,
) -> Generator[ItemBatch[T], None, None]:
    """Every item of the static catalog at ``href``, as ``convert(item)`` of each
    ``pystac.Item`` (with its self href), in batches.

    All item documents are fetched before the first batch comes back, ``batch_size`` per
    engine call on the calling thread; meanwhile a worker thread parses and converts each
    fetched batch, so a batch may still be in the works when it comes back
    (:meth:`ItemBatch.done`); the caller can use the engine (one call at a time) until it
    needs the batch's items (:meth:`ItemBatch.result`). Items are in the order of
    :func:`iter_static_items`; an item linked twice is fetched, parsed and converted once.

    Raises
    ------
    rasteret.errors.RemoteNotFoundError
        (or the class of the failure) A document cannot be read.
    ValueError
        A document is not STAC JSON of the expected type (from :meth:`ItemBatch.result` for
        an item document), or catalogs nest too deep.
    """
    crawl, links = _start(href, child_id, options)
    bar = _items_bar(links)
    try:
        yield from crawl.converted(links, max(1, batch_size), convert, bar)
    finally:
        if bar is not None:
            bar.close()

"""The built-in dataset descriptors, as plain keyword dicts.

``BEFORE_LOCAL`` are registered before the user's persisted local descriptors and
``AFTER_LOCAL`` after them (upstream's order: a local descriptor reusing one of the later ids
is overwritten by the built-in).
"""

from __future__ import annotations

from typing import Any

from rasteret.constants import LANDSAT_C2L2_BANDS, SENTINEL2_BANDS

EARTH_SEARCH = "https://earth-search.aws.element84.com/v1"
PLANETARY_COMPUTER = "https://planetarycomputer.microsoft.com/api/stac/v1"
EX = (-122.45, 37.74, -122.35, 37.84)

_AEF_URI = "s3://us-west-2.opendata.source.coop/terrafloww/aef-v1-annual-rasteret"
_AEF_FIELDS = ["id", "bbox", "datetime", "year", "utm_zone"]


def _d(**kw: Any) -> dict[str, Any]:
    return kw


BEFORE_LOCAL: list[dict[str, Any]] = [
    _d(
        id="earthsearch/sentinel-2-l2a",
        name="Sentinel-2 Level-2A",
        description="Multi-spectral optical imagery, 10-60m, global",
        stac_api=EARTH_SEARCH,
        stac_collection="sentinel-2-l2a",
        band_map=dict(SENTINEL2_BANDS),
        separate_files=True,
        spatial_coverage="global",
        temporal_range=("2015-06-23", "present"),
        requires_auth=False,
        license="proprietary",
        license_url="https://sentinel.esa.int/documents/247904/690755/Sentinel_Data_Legal_Notice",
        example_bbox=EX,
        example_date_range=("2024-06-01", "2024-07-15"),
        torchgeo_class="Sentinel2",
    ),
    _d(
        id="earthsearch/landsat-c2-l2",
        name="Landsat Collection 2 Level-2",
        description="Multi-spectral optical + thermal, 30m, global",
        stac_api=EARTH_SEARCH,
        stac_collection="landsat-c2-l2",
        band_map=dict(LANDSAT_C2L2_BANDS),
        separate_files=True,
        spatial_coverage="global",
        temporal_range=("1982-07-16", "present"),
        requires_auth=True,
        license="proprietary",
        license_url="https://www.usgs.gov/core-science-systems/hdds/data-policy",
        cloud_config={
            "provider": "aws",
            "requester_pays": True,
            "region": "us-west-2",
            "url_patterns": {"https://landsatlook.usgs.gov/data/": "s3://usgs-landsat/"},
        },
        example_bbox=EX,
        example_date_range=("2024-06-01", "2024-07-15"),
        torchgeo_class="Landsat9",
    ),
    _d(
        id="earthsearch/naip",
        name="NAIP",
        description="Aerial imagery, 1m, CONUS (beta: single multi-band COG)",
        stac_api=EARTH_SEARCH,
        stac_collection="naip",
        band_map={"R": "image", "G": "image", "B": "image", "NIR": "image"},
        band_index_map={"R": 0, "G": 1, "B": 2, "NIR": 3},
        separate_files=False,
        spatial_coverage="north-america",
        temporal_range=("2010-01-01", "2023-12-31"),
        requires_auth=True,
        license="proprietary",
        license_url="https://www.fsa.usda.gov/help/policies-and-links/",
        cloud_config={
            "provider": "aws",
            "requester_pays": True,
            "region": "us-west-2",
            "url_patterns": {},
        },
        example_bbox=EX,
        example_date_range=("2022-01-01", "2022-12-31"),
        torchgeo_class="NAIP",
    ),
    _d(
        id="earthsearch/cop-dem-glo-30",
        name="Copernicus DEM 30m",
        description="Global digital elevation model, 30m",
        stac_api=EARTH_SEARCH,
        stac_collection="cop-dem-glo-30",
        band_map={"DEM": "data"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2021-04-22", "2021-04-22"),
        requires_auth=False,
        license="proprietary",
        license_url=(
            "https://spacedata.copernicus.eu/documents/20126/0/CSCDA_ESA_Mission-specific+Annex.pdf"
        ),
        example_bbox=EX,
        example_date_range=("2021-04-01", "2021-05-01"),
    ),
    _d(
        id="earthsearch/cop-dem-glo-90",
        name="Copernicus DEM 90m",
        description="Global digital elevation model, 90m",
        stac_api=EARTH_SEARCH,
        stac_collection="cop-dem-glo-90",
        band_map={"DEM": "data"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2021-04-22", "2021-04-22"),
        requires_auth=False,
        license="proprietary",
        license_url=(
            "https://spacedata.copernicus.eu/documents/20123/121286/"
            "CSCDA_ESA_Mission-specific+Annex_31_Oct_22.pdf"
        ),
        example_bbox=EX,
        example_date_range=("2021-04-01", "2021-05-01"),
    ),
    _d(
        id="pc/sentinel-2-l2a",
        name="Sentinel-2 Level-2A (Planetary Computer)",
        description="Multi-spectral optical imagery, 10-60m, global (Azure mirror)",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="sentinel-2-l2a",
        band_map={code: code for code in SENTINEL2_BANDS},
        separate_files=True,
        spatial_coverage="global",
        temporal_range=("2015-06-23", "present"),
        requires_auth=True,
        license="proprietary",
        license_url=(
            "https://scihub.copernicus.eu/twiki/pub/SciHubWebPortal/TermsConditions/"
            "Sentinel_Data_Terms_and_Conditions.pdf"
        ),
        example_bbox=EX,
        example_date_range=("2024-06-01", "2024-07-15"),
        torchgeo_class="Sentinel2",
    ),
    _d(
        id="pc/io-lulc-annual-v02",
        name="ESRI 10m Land Use/Land Cover",
        description="Annual global land use/land cover, 10m, 11 classes",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="io-lulc-annual-v02",
        band_map={"LULC": "data"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2017-01-01", "present"),
        requires_auth=True,
        license="CC-BY-4.0",
        license_url="https://creativecommons.org/licenses/by/4.0/",
        example_bbox=EX,
        example_date_range=("2022-01-01", "2022-12-31"),
    ),
]

AFTER_LOCAL: list[dict[str, Any]] = [
    _d(
        id="pc/alos-dem",
        name="ALOS World 3D 30m DEM",
        description="Global digital elevation model, 30m, JAXA",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="alos-dem",
        band_map={"DEM": "data"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2021-01-01", "2021-01-01"),
        requires_auth=True,
        license="proprietary",
        license_url="https://earth.jaxa.jp/policy/en.html",
        example_bbox=EX,
        example_date_range=("2016-12-01", "2016-12-31"),
    ),
    _d(
        id="pc/nasadem",
        name="NASADEM",
        description="NASA DEM (SRTM-derived), 30m, near-global",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="nasadem",
        band_map={"DEM": "elevation"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2000-02-20", "2000-02-20"),
        requires_auth=True,
        license="proprietary",
        license_url="https://lpdaac.usgs.gov/data/data-citation-and-policies/",
        example_bbox=EX,
        example_date_range=("2000-02-20", "2000-02-21"),
    ),
    _d(
        id="pc/esa-worldcover",
        name="ESA WorldCover",
        description="Global land cover, 10m, 2020-2021",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="esa-worldcover",
        band_map={"MAP": "map"},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2020-01-01", "2021-12-31"),
        requires_auth=True,
        license="CC-BY-4.0",
        license_url="https://spdx.org/licenses/CC-BY-4.0.html",
        example_bbox=EX,
        example_date_range=("2021-01-01", "2021-12-31"),
    ),
    _d(
        id="pc/usda-cdl",
        name="USDA Cropland Data Layer",
        description="Annual cropland classification, 30m, CONUS",
        stac_api=PLANETARY_COMPUTER,
        stac_collection="usda-cdl",
        band_map={"CDL": "cultivated"},
        separate_files=False,
        spatial_coverage="conus",
        temporal_range=("2008-01-01", "2024-12-31"),
        requires_auth=True,
        license="proprietary",
        license_url="https://www.nass.usda.gov/Research_and_Science/Cropland/sarsfaqs2.php#Section3_5.0",
        example_bbox=(-93.8, 41.9, -93.6, 42.1),
        example_date_range=("2021-01-01", "2021-12-31"),
    ),
    _d(
        id="aef/v1-annual",
        name="AlphaEarth Foundation Embeddings (Annual)",
        description="64-band int8 foundation-model embeddings, 10m, global",
        record_table_uri=f"{_AEF_URI}/index.parquet",
        index_uri=f"{_AEF_URI}/index.parquet",
        collection_uri=f"{_AEF_URI}/data",
        field_roles={
            "id": "fid",
            "geometry": "geom",
            "datetime": "year",
            "bbox": "bbox",
            "href": "path",
            "proj:epsg": "crs",
        },
        surface_fields={
            "record_table": ["id", "geometry", "bbox", "datetime", "href"],
            "index": ["id", "geometry", "bbox", "datetime", "href", "year", "utm_zone"],
            "collection": [
                "id",
                "geometry",
                "bbox",
                "datetime",
                "assets",
                "year",
                "utm_zone",
                "proj:epsg",
            ],
        },
        filter_capabilities={s: list(_AEF_FIELDS) for s in ("record_table", "index", "collection")},
        band_index_map={f"A{i:02d}": i for i in range(64)},
        separate_files=False,
        spatial_coverage="global",
        temporal_range=("2018-01-01", "2023-12-31"),
        requires_auth=False,
        license="CC-BY-4.0",
        license_url="https://creativecommons.org/licenses/by/4.0/",
        cloud_config={
            "provider": "aws",
            "region": "us-west-2",
            "url_patterns": {"https://data.source.coop/": "s3://us-west-2.opendata.source.coop/"},
        },
        example_bbox=(11.3, -0.002, 11.5, 0.001),
        example_date_range=("2023-01-01", "2023-12-31"),
    ),
]

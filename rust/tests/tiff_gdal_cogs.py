"""Write GDAL TIFFs into a directory and print one expectation line per file (for tiff_gdal.rs).

Line: name|width|height|tile_w|tile_h|tiled|bits|sample_format|spp|planar|bigtiff|le|
      a,b,c,d,e,f|epsg|nodata|overview_widths|has_mask|block0_offset|last_block_offset|scale0|offset0|raster_type|compression
"""

import sys

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.shutil import copy
from rasterio.transform import Affine

out = sys.argv[1]
H, W = 800, 1000
CODES = {
    "none": 1,
    "lzw": 5,
    "jpeg": 7,
    "deflate": 8,
    "zstd": 50000,
    "lerc": 34887,
    "lerc_zstd": 34887,
    "lerc_deflate": 34887,
}


def write(
    name,
    count=1,
    dtype="uint16",
    crs="EPSG:32633",
    transform=None,
    nodata=None,
    mask=False,
    scales=None,
    offsets=None,
    point=False,
    ovr=None,
    cog_compress="deflate",
    cog_opts=None,
    **opts,
):
    path = f"{out}/{name}.tif"
    transform = transform or Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 4000000.0)
    data = (np.arange(H * W * count) % 200).reshape(count, H, W).astype(dtype)
    cog = opts.pop("driver", None) == "COG"
    cog_opts = cog_opts or {}
    tmp = path + ".src.tif" if cog else path
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True):
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=W,
            height=H,
            count=count,
            dtype=dtype,
            crs=crs,
            transform=transform,
            nodata=nodata,
            **({} if cog else opts),
        ) as dst:
            dst.write(data)
            if point:
                dst.update_tags(AREA_OR_POINT="Point")
            if scales:
                dst.scales = scales
                dst.offsets = offsets
            if mask:
                m = np.full((H, W), 255, dtype="uint8")
                m[:100, :100] = 0
                dst.write_mask(m)
        if ovr:
            with rasterio.open(tmp, "r+") as dst:
                dst.build_overviews(ovr)
        if cog:
            copy(tmp, path, driver="COG", blocksize=256, compress=cog_compress, **cog_opts)
    with rasterio.open(path) as s:
        tr = s.transform
        tiled = s.profile.get("tiled", False)
        bh, bw = s.block_shapes[0]
        epsg = s.crs.to_epsg() if s.crs and s.crs.is_epsg_code else None
        ovw = ",".join(str(W // f if W % f == 0 else -(-W // f)) for f in s.overviews(1))
        has_mask = any(f.name.lower() == "per_dataset" for f in s.mask_flag_enums[0])
        b0 = s.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1)
        nbx, nby = -(-W // bw), -(-H // bh)
        last = s.get_tag_item(f"BLOCK_OFFSET_{nbx - 1}_{nby - 1}", "TIFF", bidx=count)
        endian = open(path, "rb").read(2)
        big = open(path, "rb").read(4)[2:4] in (b"\x2b\x00", b"\x00\x2b")
        band_interleaved = s.interleaving and s.interleaving.name.lower() == "band"
        fields = [
            name,
            W,
            H,
            bw,
            bh,
            int(bool(tiled)),
            np.dtype(dtype).itemsize * 8,
            {"u": 1, "i": 2, "f": 3}[np.dtype(dtype).kind],
            count,
            2 if band_interleaved and count > 1 else 1,
            int(big),
            int(endian == b"II"),
            ",".join(repr(v) for v in (tr.a, tr.b, tr.c, tr.d, tr.e, tr.f)),
            epsg if epsg is not None else "",
            "" if s.nodata is None else repr(s.nodata),
            ovw,
            int(has_mask),
            b0 or "",
            last or "",
            repr(s.scales[0]) if scales else "",
            repr(s.offsets[0]) if scales else "",
            2 if s.tags().get("AREA_OR_POINT") == "Point" else 1,
            CODES[s.compression.name.lower() if s.compression else "none"],
        ]
        print("|".join(str(f) for f in fields))


write("cog_u16", driver="COG", nodata=0)
write("cog_mask_rgb", driver="COG", dtype="uint8", count=3, mask=True)
write(
    "gtiff_overviews_mask",
    dtype="uint8",
    count=3,
    tiled=True,
    blockxsize=256,
    blockysize=256,
    compress="deflate",
    photometric="RGB",
    mask=True,
    ovr=[2, 4],
)
write(
    "bigtiff_be_planar_f32",
    count=3,
    dtype="float32",
    nodata=float("nan"),
    tiled=True,
    blockxsize=512,
    blockysize=256,
    interleave="band",
    BIGTIFF="YES",
    ENDIANNESS="BIG",
    scales=[0.5, 1.0, 2.0],
    offsets=[-1.0, 0.0, 3.0],
)
write("strips_point", dtype="int16", nodata=-9999, tiled=False, blockysize=7, point=True)
write(
    "user_crs",
    dtype="uint8",
    crs=CRS.from_proj4(
        "+proj=lcc +lat_1=40 +lat_2=50 +lat_0=45 +lon_0=10 +x_0=0 +y_0=0 +ellps=GRS80 +units=m"
    ),
)
write(
    "rotated",
    dtype="uint8",
    crs="EPSG:4326",
    transform=Affine(0.01, 0.002, 10.0, 0.003, -0.01, 50.0),
)
write("cog_jpeg_rgb", driver="COG", dtype="uint8", count=3, cog_compress="jpeg")
write(
    "cog_lerc_zstd",
    driver="COG",
    dtype="float32",
    cog_compress="lerc_zstd",
    cog_opts={"max_z_error": 0.0},
)

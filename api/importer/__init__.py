"""api.importer: files in (GeoJSON, GeoPackage, zipped Shapefile, CSV), checked, upserted by code.

One concern a module: sniff (format by content), archive (zip safety),
readers (files to Arrow columns), coerce (types), geometry, validate, repair
(ST_MakeValid), catalog (the table as the database sees it), pgcopy (binary
COPY), load (stage, check, upsert), core (import_file).
"""

from api.importer.core import import_file, importable_names
from api.importer.result import ImportRejected, ImportResult, RowError

__all__ = ["ImportRejected", "ImportResult", "RowError", "import_file", "importable_names"]

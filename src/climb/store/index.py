"""The row index of a prepared dataset: ``STORE/NAME/_index/index.parquet`` (an extension of
the store contract; the shards stay complete and self-describing; the ``_`` folder keeps it
out of ``pyarrow.dataset(STORE/NAME)`` and ``read_parquet('STORE/NAME/*.parquet')``).

One row per record, in shard order, with every column of the shards except the payloads
(``input.<name>``): ids, split, labels, meta, input shapes/dtypes/attrs, plus
``input.<name>.nbytes`` (payload size, null where the record lacks that input),
``input.<name>.offset`` (byte offset of the payload value inside the shard file when the
record has a row group of its own and the column is uncompressed, else null) and where the
record lives: ``shard`` (file name), ``row_group``, ``row`` (within the row group).

It lets loaders and label scans avoid touching the payload columns (a label scan of a shard
with one row per row group pays a per-row-group cost), and it lets
:class:`climb.load.StoreDataset` read a payload with a single ``pread`` of exactly its bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from climb.store.writer import INPUT_PREFIX

INDEX = "_index/index.parquet"


def payload_columns(schema: pa.Schema) -> list[str]:
    """The ``input.<name>`` payload columns of a store schema."""
    return [n for n in schema.names if n.startswith(INPUT_PREFIX) and n.count(".") == 1]


def _value_offsets(meta: pq.FileMetaData, column: int, nbytes: np.ndarray) -> pa.Array:
    """Per row: where its value of ``column`` starts in the file (PLAIN, uncompressed, one row
    per row group: the value is the last ``nbytes`` of the column chunk), else null."""
    out = np.full(len(nbytes), -1, dtype=np.int64)
    row = 0
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        cc = rg.column(column)
        if (rg.num_rows == 1 and cc.compression == "UNCOMPRESSED"
                and not cc.has_dictionary_page and nbytes[row] >= 0):
            out[row] = cc.data_page_offset + cc.total_compressed_size - nbytes[row]
        row += rg.num_rows
    return pa.array(out, mask=out < 0)


def index_part(table: pa.Table, shard: Path) -> pa.Table:
    """The index rows of one written shard file, from its table and its Parquet footer."""
    meta = pq.ParquetFile(str(shard)).metadata
    group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    payload = payload_columns(table.schema)
    small = table.drop_columns(payload)
    for i, field in enumerate(small.schema):  # one spelling of list types ("item" children)
        if pa.types.is_list(field.type):
            small = small.set_column(i, field.with_type(pa.list_(field.type.value_type)),
                                     small.column(i).cast(pa.list_(field.type.value_type)))
    for col in payload:
        nbytes = pc.binary_length(table.column(col)).cast(pa.int64())
        small = small.append_column(col + ".nbytes", nbytes)
        filled = pc.fill_null(nbytes, -1).to_numpy()
        offsets = _value_offsets(meta, table.schema.get_field_index(col), filled)
        small = small.append_column(col + ".offset", offsets)
    groups = np.repeat(np.arange(len(group_rows), dtype=np.int32), group_rows)
    rows = np.concatenate([np.arange(n, dtype=np.int32) for n in group_rows]) if len(
        group_rows) else np.zeros(0, np.int32)
    small = small.append_column("shard", pa.array([shard.name] * table.num_rows, pa.string()))
    small = small.append_column("row_group", pa.array(groups))
    return small.append_column("row", pa.array(rows))


def shard_index_part(path: Path) -> pa.Table:
    """The index rows of an existing shard file (reads every column but the payloads)."""
    pf = pq.ParquetFile(str(path))
    payload = payload_columns(pf.schema_arrow)
    cols = [n for n in pf.schema_arrow.names if n not in payload]
    table = pf.read(columns=cols)
    for col in payload:  # sizes from a payload-free read: the binary lengths
        lengths = pf.read(columns=[col]).column(col)
        table = table.append_column(col, lengths)
    table = table.select(pf.schema_arrow.names)
    return index_part(table, Path(path))


def write_index(path: Path, parts: Sequence[pa.Table]) -> None:
    """Write the index atomically (zstd, large row groups)."""
    table = pa.concat_tables(parts, promote_options="default") if parts else None
    if table is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table.combine_chunks(), str(tmp), compression="zstd",
                   row_group_size=64 * 1024)
    tmp.replace(path)


def build_index(dataset_dir: Path, shards: Sequence[str]) -> Path:
    """(Re)build ``index.parquet`` of a dataset directory from its shards (in this order)."""
    dest = Path(dataset_dir) / INDEX
    write_index(dest, [shard_index_part(Path(dataset_dir) / s) for s in shards])
    return dest

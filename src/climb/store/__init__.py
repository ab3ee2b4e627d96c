"""Store: sharded, checksummed, atomically written Parquet datasets + manifest (`prepare`)."""

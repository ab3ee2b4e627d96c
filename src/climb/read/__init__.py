"""Readers: one module per file format, returning arrays + header metadata. They know no
dataset. Bad files raise :class:`climb.errors.RecordError` naming the file and the problem."""

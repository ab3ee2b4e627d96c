"""Adapters: one module per dataset (grouped by modality folder) that walks the official
on-disk layout and yields :class:`climb.record.Record` objects. See :mod:`climb.adapt.base`."""

from climb.adapt.base import Adapter, Item, get_adapter, has_adapter

__all__ = ["Adapter", "Item", "get_adapter", "has_adapter"]

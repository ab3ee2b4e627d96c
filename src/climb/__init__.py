"""climb: the data foundation for multimodal clinical foundation models."""

__version__ = "0.1.0"

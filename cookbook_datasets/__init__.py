"""cookbook-datasets: instruction-tuning data without annotators and without a stronger LLM."""

__version__ = "0.1.0"

from .loading import load_dataset  # noqa: E402
from .templates import get_template, list_templates  # noqa: E402

__all__ = ["__version__", "get_template", "list_templates", "load_dataset"]

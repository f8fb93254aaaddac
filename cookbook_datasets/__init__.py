"""cookbook-datasets: instruction-tuning data without annotators and without a stronger LLM."""

from .lazy import lazy_exports

__version__ = "0.1.0"

__all__ = ["__version__", "generate", "get_template", "list_templates", "load_dataset", "probe"]

# The public names load on first use (PEP 562), so `import cookbook_datasets` (and with it the
# `cookbook` command line) does not pay for `datasets`, `torch` or `transformers` up front.
_LAZY = {"load_dataset": ".loading", "generate": ".template_data", "get_template": ".templates",
         "list_templates": ".templates", "probe": ".eval.probe"}

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

"""cookbook-datasets: instruction-tuning data without annotators and without a stronger LLM."""

__version__ = "0.1.0"

__all__ = ["__version__", "get_template", "list_templates", "load_dataset"]

# The public names load on first use (PEP 562), so `import cookbook_datasets` (and with it the
# `cookbook` command line) does not pay for `datasets`, `torch` or `transformers` up front.
_LAZY = {"load_dataset": ".loading", "get_template": ".templates", "list_templates": ".templates"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value  # later lookups skip this hook
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

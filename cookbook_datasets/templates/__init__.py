"""The template registry. Every module in this package that defines a template registers it
with ``@register``; adding a template means adding one file here."""

from __future__ import annotations

import importlib
import pkgutil

from ..registry import Registry, UnknownNameError, unknown_name_error
from .base import FAMILIES, Sample, Template


class UnknownTemplateError(UnknownNameError):
    pass


_REGISTRY: Registry[type[Template]] = Registry("template", sentence=True, error=UnknownTemplateError,
                                               show=lambda names: ", ".join(sorted(names)))


def register(cls: type[Template]) -> type[Template]:
    if not cls.name or cls.family not in FAMILIES or not cls.instructions or not cls.description:
        raise TypeError(f"{cls.__name__} needs a name, a family in {FAMILIES}, a description "
                        "and at least one instruction")
    return _REGISTRY.register(cls)  # a name registered twice is a TypeError


def list_templates(family: str | None = None) -> list[str]:
    """Names of the registered templates (optionally of one family), sorted."""
    if family is not None and family not in FAMILIES:
        raise unknown_name_error("family", family, FAMILIES, plural="families", show=str)
    return sorted(n for n, c in _REGISTRY.items() if family is None or c.family == family)


def get_template_class(name: str) -> type[Template]:
    """The template class called ``name``; an unknown name raises :class:`UnknownTemplateError`."""
    return _REGISTRY.get(name)


def get_template(name: str, **params) -> Template:
    """The template ``name`` with its parameters (validated); unknown names list the valid ones."""
    cls = get_template_class(name)
    allowed = cls.describe_params()
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"template {name!r} has no parameter {unknown[0]!r}; its parameters are "
                         f"{', '.join(sorted(allowed))}")
    return cls(**params)


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base" and not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["FAMILIES", "Sample", "Template", "UnknownTemplateError", "get_template",
           "get_template_class", "list_templates", "register"]

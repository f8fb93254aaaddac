"""A job's dataclass config *is* its command line, and ``--config FILE.yaml`` fills it (TRL's way).

A subcommand that runs a job registers its config class(es)::

    add_config(parser, TrainConfig, options={"output_dir": {"required": True}})
    ...
    config = config_from_args(args, TrainConfig)

and gets one option per field, named as ``transformers.HfArgumentParser`` names them:
``--num_shots`` and ``--num-shots``, the field's ``aliases`` metadata (``["--lr"]``), its
``help``, its default, its ``choices``; a ``bool`` is ``--flag [BOOL]``, plus ``--no_flag`` where it
defaults to True; a ``list`` takes several values; an ``Optional`` takes ``none`` too. Where
HfArgumentParser has no form, this module adds one: a ``dict`` field takes ``KEY=VALUE``
(repeatable) or one JSON object; a field whose type is itself a dataclass (a part several configs
share, such as ``tasks.DatasetTask``) takes ``--field KEY=VALUE`` as a dict field does, plus one
option per field of the part, named after it (``--input-field``; a YAML file gives the part as a
mapping), and :func:`config_from_args` builds the part; every option gets a metavar. ``options``
changes a field's form for one command (positional, required, other option strings, and
``no_aliases``: more spellings of a bool's ``--no-`` option). ``add_fields`` adds some fields'
options without making the class the command's config (training shortcuts passed on to a
``TrainConfig``); ``add_field_assignments`` adds ``--param KEY=VALUE`` for any field by name.

``--config FILE.yaml`` (TRL's ``TrlParser`` convention): the file's keys are the fields (and the
command's other options); its values replace the defaults, and options given on the command line
override them. :func:`apply_config_file` does that before the command line is parsed; an unknown
key is an error that names it, the closest valid key and all of them.

Why not HfArgumentParser itself: it lives in transformers, and importing it takes about a second
(it loads transformers and numpy) on every ``cookbook --help``; TRL keeps a copy of it
(``trl/scripts/_hf_argparser.py``) for the same reason. It also cannot read a bare ``list`` or a
``dict`` field. The conventions above are its conventions, so a TRL user's flags work here.
Nothing here imports a heavy module.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Literal, Optional, Sequence, Union

CONFIG_OPTION = "--config"
_UNSET = object()


@dataclasses.dataclass
class _CommandConfigs:
    """What ``add_config`` recorded on a parser: the config classes and where ``--config`` looks."""

    classes: list = dataclasses.field(default_factory=list)
    config_dirs: list = dataclasses.field(default_factory=list)


def add_config(parser: argparse.ArgumentParser, cls: type, *, options: Optional[dict] = None,
               skip: Sequence[str] = (), config_dir: Optional[str | os.PathLike] = None) -> argparse._ArgumentGroup:
    """Add ``--config FILE.yaml`` (once per parser) and one option per field of the dataclass ``cls``
    (but those in ``skip``), in a group of their own. ``options`` maps a field to argparse keyword
    arguments that replace the derived ones, with four of this module's own: ``positional=True``,
    ``aliases`` (more option strings), ``flags`` (the option strings instead of the derived ones) and
    ``no_aliases`` (more option strings for a True-by-default bool's ``--no-`` option).
    ``config_dir``: where ``--config NAME`` also looks for ``NAME.yaml`` (bundled recipes)."""
    if "config" in {f.name for f in dataclasses.fields(cls)}:
        raise TypeError(f"{cls.__name__} has a field named 'config': the name is --config FILE.yaml's (as in TRL)")
    registry = getattr(parser, "cookbook_configs", None)
    if registry is None:
        registry = parser.cookbook_configs = _CommandConfigs()
        bundled = sorted(p.stem for p in Path(config_dir).glob("*.yaml")) if config_dir is not None else []
        parser.add_argument(CONFIG_OPTION, default=None, metavar="FILE.yaml",
                            help="YAML file whose keys are this command's option names with underscores "
                                 "(the config's fields); options given on the command line override it"
                                 + (f"; or a bundled one: {', '.join(bundled)}" if bundled else ""))
    registry.classes.append(cls)
    if config_dir is not None:
        registry.config_dirs.append(Path(config_dir))
    group = parser.add_argument_group(f"{cls.__name__} (also the keys of --config FILE.yaml)")
    add_fields(group, cls, skip=skip, options=options)
    return group


def add_fields(container, cls: type, names: Optional[Iterable[str]] = None, *, skip: Sequence[str] = (),
               options: Optional[dict] = None, default: Any = _UNSET) -> None:
    """One option per field of ``cls`` (``names``: only these) on a parser or an argument group.
    ``default``: one default for all of them instead of the fields' own (e.g. None for "only the
    options given": the command then passes on only those)."""
    options = options or {}
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted((set(names or ()) | set(options) | set(skip)) - set(by_name))
    if unknown:
        raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}")
    for name in (names if names is not None else by_name):
        if name in skip:
            continue
        _add_field(container, cls, by_name[name], hints[name], dict(options.get(name, {})), default)


def add_field_assignments(container, cls: type, *flags: str, help: str) -> None:
    """``--param KEY=VALUE`` (repeatable): set any field of ``cls`` by name, the value read as JSON
    where it is JSON (``3``, ``true``, ``[1, 2]``), else as text. Where it stands on the command line
    decides, as for the field's own option. For the scripts written before every field had an option."""
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    container.add_argument(*flags, action=_FieldAssignments, fields=names, kind=f"{cls.__name__} field",
                           dest=argparse.SUPPRESS, default=argparse.SUPPRESS, metavar="KEY=VALUE", help=help)


def config_from_args(args: argparse.Namespace, cls: type, **overrides):
    """``cls`` built from the parsed options that are its fields; ``overrides`` win. A field that is
    a dataclass (a part) is built from its ``--field KEY=VALUE`` mapping with its fields' own options
    over it (neither given: the field's default)."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        part = _part_class(hints[f.name])
        if part is None:
            if hasattr(args, f.name):
                values[f.name] = getattr(args, f.name)
            continue
        prefix = f"{f.name}."
        given = {k[len(prefix):]: v for k, v in vars(args).items() if k.startswith(prefix)}
        base = getattr(args, f.name, None)
        if dataclasses.is_dataclass(base):
            base = dataclasses.asdict(base)
        merged = {**(base or {}), **given}
        if merged:  # else the field's default
            values[f.name] = _build_part(part, merged, f.name)
    values.update(overrides)
    return cls(**values)


def _part_class(hint) -> Optional[type]:
    """The dataclass a field's type is (``Optional`` of it too), or None."""
    kind, _ = _unwrap_optional(hint)
    return kind if isinstance(kind, type) and dataclasses.is_dataclass(kind) else None


def _build_part(part: type, values: dict, name: str):
    from ..registry import unknown_name_error

    allowed = [f.name for f in dataclasses.fields(part) if f.init]
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise unknown_name_error(f"{name} key", unknown[0], allowed)
    return part(**values)


# --- --config FILE.yaml ---------------------------------------------------------------------------

def apply_config_file(parser: argparse.ArgumentParser, argv: Sequence[str]) -> Optional[Path]:
    """Where ``argv`` runs a command registered with :func:`add_config` and gives ``--config FILE``,
    make the file's values that command's defaults (so options on the command line override them).
    Returns the file read, or None. Call it before ``parser.parse_args(argv)``."""
    command, rest = _command_parser(parser, list(argv))
    registry = getattr(command, "cookbook_configs", None)
    if registry is None:
        return None
    finder = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    finder.add_argument(CONFIG_OPTION)
    try:
        found, _ = finder.parse_known_args(rest)
    except argparse.ArgumentError:  # --config without a file: the command's parser says so
        return None
    if found.config is None:
        return None
    path = _find_config_file(found.config, registry.config_dirs)
    values = read_yaml_mapping(path)
    by_dest = {}
    for action in command._actions:  # a dest with a dot is a shorthand for a key inside a field, no key of its own
        if action.dest not in (argparse.SUPPRESS, "help", "config") and "." not in action.dest \
                and action.default is not argparse.SUPPRESS:
            by_dest.setdefault(action.dest, action)  # the first action of a dest gives its default
    fields_ = [f.name for cls in registry.classes for f in dataclasses.fields(cls) if f.init and f.name in by_dest]
    allowed = list(dict.fromkeys(fields_ + list(by_dest)))
    for key, value in values.items():
        if key not in by_dest:
            from ..registry import unknown_name_error

            names = ", ".join(c.__name__ for c in registry.classes)
            error = unknown_name_error("key", key, allowed,
                                       listed=f"the keys are the fields of {names} and the command's options")
            raise type(error)(f"{path}: {error}")
        action = by_dest[key]
        action.default = _coerce(action, key, value)
        action.required = False
        if not action.option_strings and action.nargs is None:  # a positional the file gives
            action.nargs = argparse.OPTIONAL
    return path


def read_yaml_mapping(path: str | os.PathLike) -> dict:
    """A YAML file's top-level mapping (an empty file is an empty one)."""
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as e:
        raise ValueError(f"{path} is not valid YAML: {e}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ValueError(f"{path} must hold a YAML mapping of option names to values "
                         f"(got a {type(values).__name__})")
    bad = next((k for k in values if not isinstance(k, str)), None)
    if bad is not None:
        raise ValueError(f"{path}: key {bad!r} is not an option name")
    return values


def _find_config_file(name: str, config_dirs: Sequence[Path]) -> Path:
    path = Path(name)
    if path.is_file():
        return path
    for directory in config_dirs:
        if (directory / f"{name}.yaml").is_file():
            return directory / f"{name}.yaml"
    bundled = sorted(p.stem for d in config_dirs for p in d.glob("*.yaml"))
    raise FileNotFoundError(f"config {name} not found" + (f"; bundled configs: {bundled}" if bundled else ""))


def _command_parser(parser: argparse.ArgumentParser, argv: list) -> tuple[argparse.ArgumentParser, list]:
    """The (sub)parser that ``argv`` runs, following subcommand names, and the tokens after them."""
    current, rest = parser, argv
    while True:
        sub = next((a for a in current._actions if isinstance(a, argparse._SubParsersAction)), None)
        index = next((i for i, t in enumerate(rest) if sub is not None and t in sub.choices), None)
        if index is None:
            return current, rest
        current, rest = sub.choices[rest[index]], rest[index + 1:]


def _coerce(action: argparse.Action, key: str, value):
    """A YAML value as the option would have parsed it: a string goes through the option's type
    (YAML reads ``2e-4`` as a string), each element of a list too."""
    convert = action.type if callable(action.type) else None
    if convert is None or isinstance(action, _KeyValues):
        return value
    try:
        if isinstance(value, str):
            return convert(value)
        if isinstance(value, list):
            return [convert(v) if isinstance(v, str) else v for v in value]
    except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
        raise ValueError(f"{key}: {value!r} is not a valid value ({e})") from None
    return value


# --- one field, one option -------------------------------------------------------------------------

def _add_field(container, cls: type, field: dataclasses.Field, hint, custom: dict, default, dest: str = "") -> None:
    """``field``'s option(s) on ``container``; ``dest``: where the value goes (default: the field's name)."""
    kwargs = dict(field.metadata)
    aliases = list(_as_list(kwargs.pop("aliases", [])))
    dest = dest or field.name
    if default is _UNSET:
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = dataclasses.MISSING
    kind, optional = _unwrap_optional(hint)
    origin = typing.get_origin(kind)
    part = _part_class(hint)
    if origin is Literal:
        kwargs.setdefault("choices", list(typing.get_args(kind)))
        kind = type(typing.get_args(kind)[0])
    no_flag = None
    if part is not None:  # the part as a mapping here; its fields' own options below
        kwargs.update(action=_KeyValues)
        kwargs.setdefault("metavar", "KEY=VALUE")
        if dataclasses.is_dataclass(default):
            default = dataclasses.asdict(default)
    elif kind is bool:
        kwargs.update(type=to_bool, nargs="?", const=True)
        kwargs.setdefault("metavar", "BOOL")
        if default is True:
            no_flag = f"the opposite of --{field.name.replace('_', '-')}"
        default = False if default is dataclasses.MISSING else default
    elif kind is list or origin in (list, tuple) or kind is tuple:
        element = (typing.get_args(kind) or (None,))[0]
        kwargs.update(nargs="*", type=_element_type(element))
        kwargs.setdefault("metavar", _singular(field.name).upper())
    elif kind is dict or origin is dict:
        kwargs.update(action=_KeyValues)
        kwargs.setdefault("metavar", "KEY=VALUE")
    elif kind in (int, float, str):
        kwargs["type"] = _none_or(kind) if optional and kind is not str else kind
        if "choices" not in kwargs:  # argparse shows the choices instead
            kwargs.setdefault("metavar", "N" if kind is int else field.name.upper())
    elif "type" not in custom and "action" not in custom:
        raise TypeError(f"{cls.__name__}.{field.name}: no command-line form for {hint}; give it in options")
    kwargs["help"] = kwargs.get("help", "").replace("%", "%%")
    if default is dataclasses.MISSING:
        kwargs["required"] = True
    else:
        kwargs["default"] = default
    positional = custom.pop("positional", False)
    flags = custom.pop("flags", None)
    aliases += _as_list(custom.pop("aliases", []))
    no_aliases = _as_list(custom.pop("no_aliases", []))
    kwargs.update(custom)
    if positional:
        kwargs.pop("required", None)
        container.add_argument(dest, **kwargs)
        return
    if flags is None:
        flags = list(dict.fromkeys([f"--{field.name.replace('_', '-')}", f"--{field.name}"]))
    container.add_argument(*flags, *aliases, dest=dest, **kwargs)
    if no_flag:
        container.add_argument(*dict.fromkeys([f"--no-{field.name.replace('_', '-')}", f"--no_{field.name}"]),
                               *no_aliases, dest=dest, action="store_false", default=argparse.SUPPRESS, help=no_flag)
    if part is not None:  # only the options given are kept: config_from_args lays them over the mapping
        part_hints = typing.get_type_hints(part)
        for sub in dataclasses.fields(part):
            if not sub.init:
                continue
            custom = {}
            if sub.default not in (None, "", False, dataclasses.MISSING):  # the part's default, shown
                custom["help"] = f"{sub.metadata.get('help', '').rstrip('.')} (default: {sub.default})"
            _add_field(container, part, sub, part_hints[sub.name], custom, argparse.SUPPRESS, dest=f"{dest}.{sub.name}")


def _unwrap_optional(hint) -> tuple[Any, bool]:
    """``Optional[X]`` -> ``(X, True)``; anything else -> ``(hint, False)``."""
    if typing.get_origin(hint) in (Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False


def _as_list(value) -> list:
    return [value] if isinstance(value, str) else list(value)


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def to_bool(text) -> bool:
    """``true/false``, ``yes/no``, ``1/0`` (as HfArgumentParser reads a bool)."""
    if isinstance(text, bool):
        return text
    if text.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if text.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false (yes/no, 1/0), got {text!r}")


to_bool.__name__ = "bool"


def _none_or(kind):
    """``kind``, or None for ``none``/``null`` (an Optional field set back to None)."""
    def convert(text):
        return None if isinstance(text, str) and text.lower() in ("none", "null") else kind(text)

    convert.__name__ = kind.__name__
    return convert


def _element_type(element):
    """How one value of a list option is read: as its element type; untyped, JSON where it is a
    JSON object or array (``{"path": ...}``), else the text."""
    if element in (int, float):
        return element
    if element in (None, typing.Any, dict) or typing.get_origin(element) is dict:
        return _json_or_text
    return str


def _json_or_text(text: str):
    if text[:1] in "{[":
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid JSON ({e})") from None
    return text


_json_or_text.__name__ = "JSON or text"


class _KeyValues(argparse.Action):
    """A ``dict`` field: ``KEY=VALUE`` (repeatable; values are JSON where they parse) or one JSON
    object, merged into the value so far (the default, or the ``--config`` file's)."""

    def __init__(self, option_strings, dest, **kwargs):
        kwargs.setdefault("default", {})
        super().__init__(option_strings, dest, nargs=None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from .options import parse_assignments

        current = dict(getattr(namespace, self.dest, None) or {})
        if values.strip().startswith("{"):
            try:
                update = json.loads(values)
            except json.JSONDecodeError as e:
                raise ValueError(f"{option_string}: {values!r} is not a valid JSON object ({e})") from None
        else:
            update = parse_assignments([values], option_string)
        current.update(update)
        setattr(namespace, self.dest, current)


class _FieldAssignments(argparse.Action):
    """See :func:`add_field_assignments`."""

    def __init__(self, option_strings, dest, fields=(), kind="field", **kwargs):
        self.fields, self.kind = list(fields), kind
        super().__init__(option_strings, dest, nargs=None, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from ..registry import unknown_name_error
        from .options import parse_assignments

        for key, value in parse_assignments([values], option_string).items():
            if key not in self.fields:
                raise unknown_name_error(f"{self.kind} in {option_string}", key, self.fields)
            setattr(namespace, key, value)

"""Where the teacher is: one OpenAI-compatible server, several serving the same model, or a local model.

    endpoints = teacher_endpoints(["http://gpu0:8000/v1", "http://gpu1:8000/v1"])
    rows, summary = run_augmentation(seeds, endpoints, config, "runs/aug")

A :class:`TeacherEndpoint` is a recipe for one teacher engine (a URL and the served model's name,
or a local model spec, plus engine options), not an open engine: it pickles, so a Ray replica opens
its own, and a local model loads in the replicas only, never in the driver. With several endpoints
the teacher sends query ``i`` to endpoint ``i mod n`` (see :mod:`.teacher`), locally or on Ray, so
which server answered what is fixed by the plan. The servers must serve the same model: a
response is cached under the model's name, not the URL, and any endpoint's answer is as good.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Optional, Sequence
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

SCHEMES = ("http://", "https://")


def is_url(teacher) -> bool:
    return isinstance(teacher, str) and teacher.startswith(SCHEMES)


def api_root(url: str) -> str:
    """``url`` checked as an ``http(s)://HOST[:PORT][/PATH]`` server address, normalised to its API
    root (ending in ``/v1``, where `transformers serve`, vLLM and hosted APIs serve); else ValueError."""
    problem = None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in 0-65535
    except ValueError as e:
        parts, port, problem = None, None, str(e)
    if problem is None:
        if any(c.isspace() for c in url):
            problem = "it contains white space"
        elif parts.scheme not in ("http", "https"):
            problem = "it is not http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
        elif parts.query or parts.fragment:
            problem = "a server address takes no ?query or #fragment"
        elif port == 0:
            problem = "port 0 is no server's port"
    if problem is not None:
        raise ValueError(f"teacher URL {url!r} is malformed ({problem}): give http(s)://HOST[:PORT]/v1, "
                         "e.g. http://localhost:8000/v1")
    root = url.rstrip("/")
    return root if root.endswith("/v1") else root + "/v1"


def teacher_list(teacher) -> list[str]:
    """``teacher`` as a checked list: one URL or local model spec, or several server URLs (normalised,
    each once). Fails on an empty list, a malformed URL or a model spec among several, before any
    request is made."""
    if isinstance(teacher, (str, os.PathLike)):
        teachers = [teacher]
    elif isinstance(teacher, Sequence) and not isinstance(teacher, (bytes, bytearray)):
        teachers = list(teacher)
    else:
        raise ValueError(f"teacher must be a server URL, a local model spec or a list of server URLs (got {teacher!r})")
    if not teachers:
        raise ValueError("teacher is an empty list: give at least one server URL (http://host:port/v1) or a model spec")
    teachers = [os.fspath(t) if isinstance(t, os.PathLike) else t for t in teachers]
    bad = next((t for t in teachers if not isinstance(t, str) or not t.strip()), None)
    if bad is not None:
        raise ValueError(f"teacher must be a server URL (http://host:port/v1) or a model spec (got {bad!r})")
    if len(teachers) == 1:
        return [api_root(teachers[0]) if is_url(teachers[0]) else teachers[0]]
    spec = next((t for t in teachers if not is_url(t)), None)
    if spec is not None:
        raise ValueError(f"several teachers must all be server URLs (http(s)://host:port/v1); {spec!r} is not "
                         "(a local model spec is one teacher of its own: on Ray, --replicas copies it)")
    roots = [api_root(t) for t in teachers]
    twice = next((r for i, r in enumerate(roots) if r in roots[:i]), None)
    if twice is not None:
        raise ValueError(f"teacher {twice} is listed twice: list each server once")
    return roots


@dataclass
class TeacherEndpoint:
    """How to open one teacher engine. ``teacher``: a server's API root (``http(s)://.../v1``, with
    ``model`` the name it serves) or a local model spec (the ``transformers`` backend); ``options``
    go to the engine (``concurrency``, ``timeout``, ``api_key_env``; ``dtype``, ``batch_size``)."""

    teacher: str
    model: Optional[str] = None
    options: dict = field(default_factory=dict)

    def __post_init__(self):
        if is_url(self.teacher):
            self.teacher = api_root(self.teacher)
            if not self.model:
                raise ValueError(f"TeacherEndpoint({self.teacher!r}) needs model= (the served model's name; "
                                 "teacher_endpoints() asks the server for it)")
        if not isinstance(self.options, dict):
            raise ValueError(f"TeacherEndpoint.options must be a mapping (got {self.options!r})")

    @property
    def served(self) -> bool:
        return is_url(self.teacher)

    @property
    def concurrency(self) -> Optional[int]:
        """Requests in flight to a server (None for a local model, which batches instead)."""
        return int(self.options.get("concurrency", 8)) if self.served else None

    @property
    def model_id(self) -> str:
        """What names this teacher in cache keys: the served model's name, or what a local model's
        config records as its path (:func:`.teacher.engine_model_id` of the engine it opens)."""
        if self.served:
            return self.model
        from cookbook_datasets.models import resolve_model_path

        path = resolve_model_path(self.teacher)
        from pathlib import Path

        adapter_config = Path(path) / "adapter_config.json"
        if adapter_config.exists():  # an adapter directory given as the model: the config is its base's
            import json

            return json.loads(adapter_config.read_text())["base_model_name_or_path"]
        return path

    def open(self):
        """The engine (close it when done)."""
        return load_teacher_engine(self.teacher, model=self.model, **self.options)

    def __repr__(self):
        return f"TeacherEndpoint({self.teacher!r}, model={self.model!r})"


def teacher_endpoints(teacher, *, model: Optional[str] = None, **options) -> list[TeacherEndpoint]:
    """One :class:`TeacherEndpoint` per entry of ``teacher`` (:func:`teacher_list`). For servers
    without ``model``, each is asked what it serves (``GET /models``, not a paid query): a server
    that does not answer, serves several models, or serves another model than the others is an error
    here, before any query."""
    teachers = teacher_list(teacher)
    if not is_url(teachers[0]):
        return [TeacherEndpoint(teachers[0], model, dict(options))]
    names = []
    for url in teachers:
        if model is not None:
            names.append(model)
            continue
        engine = load_teacher_engine(url, **options)  # asks /models, and says what is wrong
        names.append(engine.model)
        engine.close()
    if len(set(names)) > 1:
        served = ", ".join(f"{u} serves {n!r}" for u, n in zip(teachers, names))
        raise ValueError(f"the teachers serve different models ({served}): list servers of one model, or name it "
                         "with teacher_model= (--teacher-model)")
    return [TeacherEndpoint(url, name, dict(options)) for url, name in zip(teachers, names)]


def load_teacher_engine(teacher: str, *, model: Optional[str] = None, **options):
    """An engine for ``teacher``: an ``http(s)://`` URL is an OpenAI-compatible server (``model``: the
    served model's name; default: the only one it serves), anything else a local model spec
    (``load_model``) on the ``transformers`` backend. ``options`` go to the engine."""
    from cookbook_datasets.generation import load_engine

    if not isinstance(teacher, str) or not teacher:
        raise ValueError(f"teacher must be a server URL (http://host:port/v1) or a model spec (got {teacher!r})")
    if not is_url(teacher):
        return load_engine(teacher, backend="transformers", **options)
    base_url = api_root(teacher)
    engine = load_engine(model or "unknown", backend="openai", base_url=base_url, **options)
    if model is None:
        served = engine.served_models()
        if not served:
            engine.close()
            raise ValueError(f"{base_url}/models lists no model (or the server does not answer): name the served "
                             "model with teacher_model= (--teacher-model)")
        if len(served) > 1:
            engine.close()
            raise ValueError(f"{base_url} serves several models ({', '.join(served)}): pick one with "
                             "teacher_model= (--teacher-model)")
        engine.model = served[0]
    return engine


def endpoint_of(engine) -> object:
    """What a Ray replica is sent for an open ``engine``: a :class:`TeacherEndpoint` for a server
    client (its HTTP sessions do not pickle), else the engine itself (pickled, e.g. a local model)."""
    from cookbook_datasets.generation.base import Engine

    if isinstance(engine, TeacherEndpoint) or not isinstance(engine, Engine) or engine.name != "openai":
        return engine
    options = {"api_key_env": engine.api_key_env, "concurrency": engine.concurrency, "timeout": engine.timeout,
               "max_retries": engine.max_retries, "backoff": engine.backoff, "max_backoff": engine.max_backoff,
               "extra_body": dict(engine.extra_body), "progress": False}
    return TeacherEndpoint(engine.base_url, engine.model, options)

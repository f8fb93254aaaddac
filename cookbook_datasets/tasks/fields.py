"""Which parts of a task's inputs are fields, and which field plays which role for the templates.

The templates read a real example through a few **roles** (``ROLES``): ``premise``/``hypothesis``
(NLI), ``sentence1``/``sentence2`` (sentence pairs), ``passage``/``question``, ``question``/
``choices`` and ``context``/``choices``. Tasks mark their fields in their own ways; nothing here
is a list of known tasks' markers. :func:`detect_layout` reads all of a task's inputs at once
(its demonstrations and the rows it is given, never their answers):

1. **Fields.** Any ``Name:`` segment is a candidate: a word, optionally followed by an index
   (``Sentence 2:``, ``Text1:``, ``Sentence_A :``, ``SENTENCE 1 :``, ``Sentence (2):``,
   ``Text [B]:``, ``Statement #1:``), at the start of a line or
   after a separator, or capitalised mid-line (so "... a significant fact: she left" stays text).
   Names compare by a normal form (lower case, ``_``/``-`` as spaces, a word and its index
   apart: "Text1" = "text 1"). A candidate is a field when it marks at least half of the inputs.
   Text before the first field is a field too (``text``) when most inputs have some. Inputs with
   no field names at all are split at a separator: one the definition quotes (``separated by
   "|||"``), else ``<sep>``, ``[SEP]``, ``|||``, a tab or a line break, the first that splits
   at least 80% of the inputs into the same number (>= 2) of parts (``part 1``, ``part 2``...).
   A field whose values are numbered ("1. a 2. b") or lettered ("(A) a (B) b") options is a
   choices field.
2. **Roles**, in this order (``how`` records which step filled each role):
   the user's mapping (``--field premise=NAME``: ``user``); a choices field (``options``); a field
   named as a role (``Premise:``, ``Question 1:``, ``Passage:``: ``name``); two fields of one name
   with indices 1/2 or a/b (``Sentence A``/``Sentence B``: ``numbered names``) as the sentence pair;
   a field whose values end with "?" as the question (``values end with ?``); beside a question,
   the one other text field as the passage (``the field beside the question``); beside options,
   the one text field as the question and the premise the options are judged against (``the
   field beside the options``); and for two remaining
   fields, the pair in the order the definition mentions premise and hypothesis
   (``definition order``), else in the order they appear (``order``). A pair half named by its
   role (``Hypothesis:``) takes a remaining field as its partner only when the definition names
   the partner's role. Three or more unexplained fields stay unassigned: the report says so, and
   ``--field`` resolves them.
3. The NLI pair and the sentence pair are the same two texts (premise = sentence1, hypothesis =
   sentence2), so one task serves both kinds of templates.

A multiple-choice instance's fields are given (:func:`choice_fields`): ``question`` and ``choices``,
plus ``context`` for continuation tasks such as HellaSwag and PIQA, and ``passage`` for BoolQ-like
questions that hold "passage\\nQuestion: q". ``Task.with_layout`` stores a task's layout and
``Task.field_examples`` reads its instances through it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

ROLES = ("premise", "hypothesis", "sentence1", "sentence2", "passage", "question", "choices", "context")
PAIR_OF = {"premise": "sentence1", "hypothesis": "sentence2", "sentence1": "premise", "sentence2": "hypothesis"}
HEAD = "text"  # the text before the first field (or the whole input when it has none)

_MIN_SHARE = 0.5  # a name is a field when it marks at least this share of the inputs
_SPLIT_SHARE = 0.8  # a separator must split at least this share of the inputs alike
_SEPARATORS = ("<sep>", "[SEP]", "|||", "\t", "\n")
# A field name ends right before the colon: a word (letters, digits, _ and -, starting with a letter),
# optionally an index token after spaces (also bracketed or after '#': "(2)", "[B]", "#1"), then
# optional spaces.
_INDEX = r"\(\w{1,3}\)|\[\w{1,3}\]|#\w{1,3}"
_NAME = re.compile(r"((?:[A-Za-z0-9][\w\-]*[ \t]+){0,2}(?:[A-Za-z0-9][\w\-]*|" + _INDEX + r"))[ \t]*$")
_ORDINALS = {"first": "1", "second": "2", "one": "1", "two": "2"}
_SEP_TAIL = re.compile(r"(\s*(<sep>|\[SEP\]|\|\|\||\|)\s*)+$", re.IGNORECASE)  # what separates two fields
_DEFINITION_WORDS = {
    "premise": r"\bpremises?\b", "hypothesis": r"\bhypothes[ie]s\b",
}
CONTINUATION_TASKS = ("hellaswag", "piqa")  # the question is a context that the choices continue


class FieldMappingError(ValueError):
    """A ``--field ROLE=NAME`` the tasks cannot honour (unknown role, or a field no input has)."""


def normal_name(name: str) -> str:
    """ "Sentence_A" -> "sentence a", "Text1" -> "text 1", "SENTENCE  1 " -> "sentence 1",
    "Sentence (2)" / "Sentence [2]" / "Sentence #2" -> "sentence 2"."""
    s = re.sub(r"[_\-()\[\]#]+", " ", str(name).strip().lower())
    s = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", s)
    return " ".join(s.split())


def _split_index(key: str) -> tuple[str, Optional[str]]:
    """ "sentence 2" -> ("sentence", "2"); "sentence a" -> ("sentence", "1"); "premise" -> ("premise", None)."""
    parts = key.split()
    if len(parts) >= 2:
        last = parts[-1]
        if last.isdigit():
            return " ".join(parts[:-1]), last
        if len(last) == 1 and last.isalpha():
            return " ".join(parts[:-1]), str(ord(last) - ord("a") + 1)
        if last in _ORDINALS:
            return " ".join(parts[:-1]), _ORDINALS[last]
    return key, None


def parse_field_map(items: Sequence[str] | Mapping[str, str] | None) -> dict:
    """``["premise=Text A", ...]`` (or a dict) -> {role: field name}, checked against ``ROLES``."""
    if not items:
        return {}
    pairs = items.items() if isinstance(items, Mapping) else []
    if not isinstance(items, Mapping):
        pairs = []
        for item in items:
            role, sep, name = str(item).partition("=")
            if not sep:
                raise FieldMappingError(f"--field {item!r}: expected ROLE=NAME, e.g. premise=Sentence A "
                                        f"(roles: {', '.join(ROLES)})")
            pairs.append((role, name))
    out = {}
    for role, name in pairs:
        role, name = str(role).strip().lower(), str(name).strip().rstrip(":").strip()
        if role not in ROLES:
            raise FieldMappingError(f"--field {role}={name}: unknown role {role!r}; roles are {', '.join(ROLES)}")
        if not name:
            raise FieldMappingError(f"--field {role}=: give the field's name as it appears in the input "
                                    f"(e.g. {role}=Sentence A)")
        if role in out and out[role] != name:
            raise FieldMappingError(f"--field gives role {role!r} twice ({out[role]!r} and {name!r})")
        out[role] = name
    return out


# -- fields -----------------------------------------------------------------------------------------
def _name_options(text: str, forced: Sequence[str] = ()) -> list[tuple[list, int]]:
    """Per colon of ``text``: ([(normal name, start), ...] longest first, end of the colon). A name
    is 1 to 3 words ending right before the colon (``Sentence 2``, ``Pick one``, ``Text1``, spaces
    before the colon allowed), starting with a letter, at the start of a line or after a separator,
    or capitalised mid-line (so "... a significant fact: she left" is text); ``forced`` names
    (the user's) count wherever they stand."""
    out = []
    for colon in re.finditer(r":", text):
        pos = colon.start()
        if text[pos + 1:pos + 3] == "//":  # a URL
            continue
        before = text[max(0, pos - 80):pos]
        m = _NAME.search(before)
        if not m:
            continue
        base = pos - (len(before) - m.start())
        tokens = [(t.start() + base, t.group()) for t in re.finditer(r"\S+", m.group(1))]
        options = []
        for k in range(len(tokens)):
            start = tokens[k][0]
            raw = text[start:pos].strip()
            if not raw[0].isalpha():
                continue
            lead = text[:start]
            if lead and not lead[-1].isspace() and lead[-1] not in ">]|(":
                continue  # inside a word
            stripped = lead.rstrip(" \t")
            at_line = not stripped or stripped.endswith(("\n", ">", "]", "|"))
            key = normal_name(raw)
            if at_line or raw[0].isupper() or key in forced:
                options.append((key, start))
        if options:
            out.append((options, colon.end()))
    return out


def _candidates(text: str, keys: Sequence[str]) -> list[tuple[str, int, int]]:
    """(field key, start, end) of each colon whose longest name option is one of ``keys``."""
    out = []
    for options, end in _name_options(text, forced=tuple(keys)):
        match = next(((k, s) for k, s in options if k in keys), None)
        if match is not None:
            out.append((match[0], match[1], end))
    return out


@dataclass
class Field:
    """One field of a task's inputs."""

    key: str  # normal name ("sentence 1"); ``text`` for the text before the first field; ``part N``
    name: str  # as the inputs spell it (its most frequent spelling)
    kind: str = "text"  # "text" | "choices"
    share: float = 1.0  # share of the inputs that have it
    position: float = 0.0  # mean rank among the fields of an input


@dataclass
class FieldLayout:
    """How one task's inputs split into fields, and which field fills which role."""

    fields: list = field(default_factory=list)  # Field, in the order they appear
    roles: dict = field(default_factory=dict)  # role -> field key
    how: dict = field(default_factory=dict)  # role -> which rule filled it
    separator: Optional[str] = None  # inputs without field names: what splits them
    unassigned: list = field(default_factory=list)  # text fields no rule could place
    notes: list = field(default_factory=list)

    # -- reading an input -------------------------------------------------------------------
    def split(self, text: str) -> dict:
        """field key -> value (a list of options for a choices field)."""
        keys = {f.key for f in self.fields}
        kinds = {f.key: f.kind for f in self.fields}
        values: dict = {}
        if self.separator is not None:
            parts = [p.strip() for p in text.split(self.separator)]
            parts = [p for p in parts if p]
            for i, p in enumerate(parts):
                values[f"part {i + 1}"] = p
        else:
            seen, found = set(), []
            for key, start, end in _candidates(text, tuple(keys)):
                if key not in seen:
                    seen.add(key)
                    found.append((key, start, end))
            head = text[:found[0][1]] if found else text
            if _clean(head):
                values[HEAD] = _clean(head)
            for i, (key, _, end) in enumerate(found):
                values[key] = _clean(text[end:found[i + 1][1]] if i + 1 < len(found) else text[end:])
        for key, value in list(values.items()):
            if kinds.get(key) == "choices":
                values[key] = split_options(value)
        return values

    def parse(self, text: str) -> dict:
        """The example templates read: every field under its key, then every role filled."""
        values = self.split(text)
        example = dict(values)
        for role, key in self.roles.items():
            if key in values:
                example[role] = values[key]
        for role, partner in PAIR_OF.items():  # premise = sentence1, hypothesis = sentence2
            if role not in example and partner in self.roles and self.roles[partner] in values:
                example[role] = values[self.roles[partner]]
        return example

    def describe(self) -> dict:
        """What the report shows: the fields found and the role each filled, and why."""
        names = {f.key: f.name for f in self.fields}
        roles = {r: names.get(k, k) for r, k in self.roles.items()}
        how = dict(self.how)
        for role, partner in PAIR_OF.items():  # the pair's other names, as parse() fills them
            if role not in roles and partner in self.roles:
                roles[role], how[role] = roles[partner], f"same text as {partner}"
        return {"fields": [names[f.key] for f in self.fields], "roles": roles, "how": how,
                "separator": self.separator,
                "choices": [names[f.key] for f in self.fields if f.kind == "choices"],
                "unassigned": [names.get(k, k) for k in self.unassigned], "notes": list(self.notes)}


def _clean(value: str) -> str:
    return _SEP_TAIL.sub("", value).strip()


def split_options(text: str) -> list[str]:
    """Numbered options ("1. a 2. b") or lettered ones ("(A) a (B) b", "A. a B. b"); else the text."""
    numbered = _split_marked(text, [str(k) for k in range(1, 100)], r"\(?{}[.)]\s+")
    if numbered and len(numbered) >= 2:
        return numbered
    lettered = _split_marked(text, list("ABCDEFGHIJ"), r"\(?{}[.):]\s+")
    if lettered and len(lettered) >= 2:
        return lettered
    return [text]


def _split_marked(text: str, marks: Sequence[str], pattern: str) -> Optional[list[str]]:
    starts, at = [], 0
    for mark in marks:
        m = re.compile(r"(?:^|(?<=\s))" + pattern.format(re.escape(mark))).search(text, at)
        if m is None:
            break
        starts.append((m.start(), m.end()))
        at = m.end()
    if not starts:
        return None
    return [_clean(text[end:starts[i + 1][0]] if i + 1 < len(starts) else text[end:])
            for i, (_, end) in enumerate(starts)]


def _is_options(values: Sequence[str]) -> bool:
    values = [v for v in values if v]
    return bool(values) and sum(len(split_options(v)) >= 2 for v in values) >= _SPLIT_SHARE * len(values)


def _find_fields(texts: Sequence[str], forced: Sequence[str]) -> tuple[list, dict]:
    """(fields in order, key -> spellings) from the names that mark enough of ``texts``."""
    counts: dict = {}
    for text in texts:
        seen = {k for options, _ in _name_options(text, forced) for k, _ in options}
        for key in seen:
            counts[key] = counts.get(key, 0) + 1
    need = max(1, _MIN_SHARE * len(texts))
    keys = [k for k, n in counts.items() if n >= need or k in forced]
    spellings, ranks = {}, {}
    for text in texts:
        seen = []
        for key, start, end in _candidates(text, keys):
            if key not in seen:
                seen.append(key)
                spelled = text[start:end].rstrip(": \t")
                spellings.setdefault(key, {}).setdefault(spelled, 0)
                spellings[key][spelled] += 1
        for rank, key in enumerate(seen):
            ranks.setdefault(key, []).append(rank)
    fields = [Field(key=k, name=max(spellings[k], key=spellings[k].get), share=len(ranks[k]) / len(texts),
                    position=sum(ranks[k]) / len(ranks[k])) for k in keys if k in ranks
              and (len(ranks[k]) >= need or k in forced)]
    return sorted(fields, key=lambda f: f.position), spellings


def _find_separator(texts: Sequence[str], definition: str) -> Optional[tuple[str, int]]:
    quoted = re.findall(r"[\"'“‘]([^\"'”’\w\s]{1,8}|<[^>]{1,8}>|\[[^\]]{1,8}\])[\"'”’]", definition)
    named = [q for q in quoted if q.strip()]
    if re.search(r"\b(new ?line|line break|separate lines)\b", definition, re.IGNORECASE):
        named.append("\n")
    for sep in dict.fromkeys(named + list(_SEPARATORS)):
        sizes = [len([p for p in t.split(sep) if p.strip()]) for t in texts]
        for k in sorted(set(sizes), key=sizes.count, reverse=True)[:1]:
            if k >= 2 and sizes.count(k) >= _SPLIT_SHARE * len(texts):
                return sep, k
    return None


# -- roles ------------------------------------------------------------------------------------------
def _assign(layout: FieldLayout, values: dict, definition: str, user: dict) -> None:
    fields = {f.key: f for f in layout.fields}
    text_fields = [f.key for f in layout.fields if f.kind == "text"]
    roles, how = layout.roles, layout.how
    used = set()

    def give(role, key, why):
        if role not in roles and key not in used:
            roles[role] = key
            how[role] = why
            used.add(key)
            return True
        return False

    for role, key in user.items():  # the user's mapping first, whatever the other rules say
        roles[role], how[role] = key, "user"
        used.add(key)
    choices = [f.key for f in layout.fields if f.kind == "choices" and f.key not in used]
    if choices:
        give("choices", choices[0], "options")
    named = {}
    for key in text_fields:  # a field named as a role
        base, index = _split_index(key)
        if base in ("premise", "hypothesis", "passage", "question", "context") and index in (None, "1"):
            named.setdefault(base, key)
    for role in ("premise", "hypothesis", "question"):
        if role in named:
            give(role, named[role], "name")
    # two fields of one name with indices 1 and 2 (or a and b): the sentence pair
    if "sentence1" not in roles and "premise" not in roles:
        by_base: dict = {}
        for key in text_fields:
            base, index = _split_index(key)
            if index is not None and key not in used:
                by_base.setdefault(base, {})[index] = key
        for base, idx in by_base.items():
            if "1" in idx and "2" in idx:
                give("sentence1", idx["1"], "numbered names")
                give("sentence2", idx["2"], "numbered names")
                break
    rest = [k for k in text_fields if k not in used]
    if "question" not in roles and len(layout.fields) >= 2:  # a lone field plays no role: templates read two
        asks = [k for k in rest if _mostly(values.get(k, []), lambda v: v.rstrip().endswith("?"))]
        if len(asks) == 1:
            give("question", asks[0], "values end with ?")
    rest = [k for k in text_fields if k not in used]
    # "Passage:" and "Context:" are their roles beside a question or options; otherwise plain texts
    if "question" in roles and "choices" not in roles and "passage" not in roles:
        if "passage" in named and named["passage"] in rest:
            give("passage", named["passage"], "name")
        elif len(rest) == 1:
            give("passage", rest[0], "the field beside the question")
    rest = [k for k in text_fields if k not in used]
    if "choices" in roles:
        if "context" in named and named["context"] in rest:
            give("context", named["context"], "name")
        rest = [k for k in text_fields if k not in used]
        if "question" not in roles and len(rest) == 1:
            give("question", rest[0], "the field beside the options")
            # the text the options are judged against is also a premise (which option follows from it)
            if "premise" not in roles and "sentence1" not in roles:
                roles["premise"], how["premise"] = rest[0], "the field beside the options"
    rest = [k for k in text_fields if k not in used]
    pair = [("premise", "sentence1"), ("hypothesis", "sentence2")]
    have = [any(r in roles for r in names) for names in pair]
    mentions = {r: _first_mention(definition, r) for r in ("premise", "hypothesis")}
    if not any(have) and "question" not in roles and "choices" not in roles:
        if len(rest) == 2:
            first, second = rest
            if mentions["premise"] is not None and mentions["hypothesis"] is not None:
                if mentions["hypothesis"] < mentions["premise"]:
                    first, second = second, first
                give("premise", first, "definition order")
                give("hypothesis", second, "definition order")
            else:
                give("premise", first, "order")
                give("hypothesis", second, "order")
        elif len(rest) > 2:
            layout.notes.append(f"{len(rest)} fields and no rule to tell their roles apart: map them with "
                                f"--field ROLE=NAME (roles: {', '.join(ROLES)})")
    elif any(have) and not all(have) and len(rest) >= 1:
        missing = 0 if not have[0] else 1
        role = pair[missing][0]
        if mentions[role] is not None and len(rest) == 1:
            give(role, rest[0], "definition")
    layout.unassigned = [k for k in text_fields if k not in used and k in fields and k != HEAD]


def _mostly(values: Sequence, test) -> bool:
    values = [v for v in values if isinstance(v, str) and v]
    return bool(values) and sum(map(test, values)) >= _SPLIT_SHARE * len(values)


def _first_mention(definition: str, role: str) -> Optional[int]:
    m = re.search(_DEFINITION_WORDS[role], definition, re.IGNORECASE)
    return None if m is None else m.start()


# -- the entry point --------------------------------------------------------------------------------
def detect_layout(texts: Sequence[str], definition: str = "", field_map: Optional[Mapping[str, str]] = None,
                  task: str = "task", strict: bool = True) -> FieldLayout:
    """The layout of a task's inputs ``texts`` (demonstrations first, then instances); see the
    module doc. ``field_map`` (role -> field name as the inputs spell it) overrides the rules for
    the roles it names; a name none of ``texts`` has raises :class:`FieldMappingError` (``strict``)
    or is left out and noted (``strict=False``: one mapping for several tasks)."""
    texts = [str(t) for t in texts if str(t).strip()]
    user_names = {role: normal_name(name) for role, name in parse_field_map(field_map).items()}
    layout = FieldLayout()
    if not texts:
        return layout
    fields, _ = _find_fields(texts, forced=tuple(user_names.values()))
    named = [f for f in fields]
    if named:
        heads = sum(bool(_clean(_head(t, {f.key for f in named}))) for t in texts)
        if heads >= _MIN_SHARE * len(texts):
            named.insert(0, Field(key=HEAD, name="(text before the first field)", share=heads / len(texts),
                                  position=-1.0))
        layout.fields = named
    else:
        found = _find_separator(texts, definition)
        if found is not None:
            sep, k = found
            layout.separator = sep
            layout.fields = [Field(key=f"part {i + 1}", name=f"part {i + 1}", position=float(i)) for i in range(k)]
            layout.notes.append(f"no field names: the inputs split at {sep!r} into {k} parts")
        else:
            layout.fields = [Field(key=HEAD, name="(the whole input)")]
    samples = [layout.split(t) for t in texts]
    values = {f.key: [s.get(f.key) for s in samples if isinstance(s.get(f.key), str)] for f in layout.fields}
    for f in layout.fields:
        if f.key != HEAD and _is_options(values[f.key]):
            f.kind = "choices"
    samples = [layout.split(t) for t in texts]
    values = {f.key: [s.get(f.key) for s in samples if isinstance(s.get(f.key), str)] for f in layout.fields}
    keys = {f.key for f in layout.fields}
    user = {}
    given = parse_field_map(field_map)
    for role, key in user_names.items():
        if key not in keys:
            found_names = ", ".join(f.name for f in layout.fields) or "none"
            message = (f"task {task!r}: --field {role}={given[role]}: no field {given[role]!r} in its inputs; "
                       f"fields found: {found_names}")
            if strict:
                raise FieldMappingError(message)
            layout.notes.append(f"--field {role}={given[role]}: no such field here")
            continue
        user[role] = key
    _assign(layout, values, definition, user)
    return layout


def _head(text: str, keys: set) -> str:
    for key, start, _ in _candidates(text, tuple(keys)):
        return text[:start]
    return text


def check_field_map(field_map: Optional[Mapping[str, str]], layouts: Mapping[str, Optional[FieldLayout]]) -> None:
    """Refuse a ``--field ROLE=NAME`` that no task's inputs have (``layouts``: task name -> its
    layout), naming each task's fields."""
    for role, name in parse_field_map(field_map).items():
        if not any(l is not None and l.how.get(role) == "user" for l in layouts.values()):
            found = "; ".join(f"{t}: {', '.join(f.name for f in l.fields) or 'none'}"
                              for t, l in layouts.items() if l is not None) or "no task with named fields"
            raise FieldMappingError(f"--field {role}={name}: no task's inputs have a field {name!r}; fields "
                                    f"found: {found}")


# -- multiple choice --------------------------------------------------------------------------------
def choice_fields(task: str, question: str, choices: Sequence[str]) -> dict:
    """A multiple-choice instance's fields: question and choices, "context" for continuation
    tasks (by the task's name), "passage" and the bare question for BoolQ-like questions."""
    question, choices = str(question), [str(c) for c in choices]
    example = {"question": question, "choices": choices}
    passage, sep, asked = question.rpartition("\nQuestion: ")
    if sep:
        example.update(passage=passage.strip(), question=asked.strip())
    if task.startswith(CONTINUATION_TASKS):
        example["context"] = question
    return example

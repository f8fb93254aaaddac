"""What a task's code labels mean ("1"/"0", "E"/"N"/"C"), read from its definition.

A label template answers by role (``nli``: entailment / neutral / contradiction; ``yes_no_qa``,
``entity_matching``, ``paraphrase_detection``: yes / no). A task label that spells a role
("Entailment", "yes.", or its initial "C") takes that role (Cookbook-Mix: mixing/signals.py). Codes
do not spell anything, so :func:`label_meanings` reads the definition around each label:

- a label next to a parenthesised meaning, either way round: ``E (entailment)``, ``entailment (E)``;
- a quoted label (``'1'``, ``"0"``) and the clause it stands in: ``answer '1' if the first sentence
  entails the second`` -> entailment;
- labels and meanings listed in the same order, "respectively" (``answer 'S' or 'W' if it supports
  or undermines the claim, respectively``);
- a negated meaning or an "otherwise" clause (``'0' for non entailment``, ``otherwise answer '0'``)
  gives the label every role but the ones the other labels took (a two-way task's "0" is both
  neutral and contradiction).

Each role has a few cue stems (``CUES``). What no cue settles is left to the fit rows' gold
answers (or, without labels, the demonstrations): mixing/signals.py picks the words that make the
rule most accurate there.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

CUES = {
    "entailment": ("entail", "impl", "agree", "support", "follow", "conclude", "true", "strengthen"),
    "contradiction": ("contradict", "disagree", "oppos", "undermin", "refut", "conflict", "false", "weaken"),
    "neutral": ("neutral", "neither", "unrelated", "undetermin", "cannot be determined", "can't be determined",
                "unknown", "not enough"),
    "yes": ("yes", "true", "same", "match", "similar", "paraphrase", "equivalent", "entail", "correct", "agree",
            "support", "answerable", "contain", "strengthen"),
    "no": ("no", "false", "different", "mismatch", "incorrect", "disagree", "contradict", "unanswerable", "undermin",
           "weaken", "oppos", "refut"),
}
# an enumeration of short items: "E, C, and N" / "'A' or 'B'" / "yes/no"
_ITEM = r"(?:'[^']{1,12}'|\"[^\"]{1,12}\"|(?<![\w'\"])\w{1,12}(?![\w'\"]))"
_LIST = re.compile(_ITEM + r"(?:\s*(?:,\s*(?:and|or)?|\band\b|\bor\b|/)\s*" + _ITEM + r")+")


def _listed_items(sentence: str, labels: Sequence[str]) -> Optional[list]:
    """The items of the enumeration in ``sentence`` that holds every label in ``labels`` (quotes
    stripped), when it also holds items that are not labels; None otherwise."""
    for m in _LIST.finditer(sentence):
        items = [x.strip("'\"") for x in re.findall(_ITEM, m.group(0)) if x.lower() not in ("and", "or")]
        if set(labels) <= set(items) and len(items) > len(labels):
            return items
    return None
_NEGATION = re.compile(r"\b(not|non|no|never|otherwise|else|n't)\b|n't|\bnon-", re.IGNORECASE)


def _cue(c: str) -> str:
    """A cue stem at a word's start; a short one ("no", "yes") is a whole word ("note" is not "no")."""
    return r"(?<![a-z])" + re.escape(c) + (r"(?![a-z])" if len(c) < 4 else "")


def _clauses(definition: str) -> list[str]:
    return [c for c in re.split(r"(?<=[.;!?])\s+|,\s+|\s+or\s+", definition) if c.strip()]


def _cued(text: str, roles: Sequence[str]) -> list[str]:
    t = text.lower()
    return [r for r in roles if any(re.search(_cue(c), t) for c in CUES.get(r, ()))]


def _contexts(definition: str, label: str, labels: Sequence[str] = ()) -> list[tuple[str, bool]]:
    """(text that says what ``label`` means, whether it is a parenthesised gloss) per mention."""
    esc = re.escape(label)
    out = []
    for m in re.finditer(rf"(?<![\w'\"]){esc}\s*\(([^()]{{2,40}})\)", definition):  # E (entailment)
        out.append((m.group(1), True))
    for m in re.finditer(rf"([A-Za-z][\w -]{{1,40}}?)\s*\(\s*['\"]?{esc}['\"]?\s*\)", definition):  # entailment (E)
        out.append((m.group(1).split()[-1] if m.group(1).split() else m.group(1), True))
    if out:
        return out

    def quoted(lab):
        return re.compile(rf"['\"“‘]{re.escape(lab)}\.?['\"”’]")

    for clause in _clauses(definition):
        mine = [m for m in quoted(label).finditer(clause)]
        if not mine:
            continue
        others = sorted(m.start() for lab in labels if lab != label for m in quoted(lab).finditer(clause))
        for m in mine:
            after_end = next((o for o in others if o > m.start()), len(clause))
            before_start = max([o for o in others if o < m.start()], default=-1)
            after = clause[m.end():after_end]
            before = clause[before_start + 1 if before_start >= 0 else 0:m.start()]
            if before_start >= 0:  # skip past the other label's own quote
                before = before.split(" ", 1)[-1]
            out.append((after if after.strip(" ,.") else before, False))
            if _NEGATION.search(before) and not _NEGATION.search(after):
                out.append((before, False))
    return out


def _respectively(definition: str, labels: Sequence[str], roles: Sequence[str]) -> Optional[dict]:
    """ "output 'A' or 'B' if it supports or undermines it, respectively" -> {A: supports' role, B: ...}:
    the labels in the order the sentence gives them, the meanings in the order they come after
    them (or, when none does, in the sentence before). None: no such sentence; {}: one that does
    not pair up (then nothing is guessed from it)."""
    found = False
    sentences = re.split(r"(?<=[.!?])\s+", definition)
    for k, sentence in enumerate(sentences):
        if "respectively" not in sentence.lower():
            continue
        at = {}
        for lab in labels:
            m = re.search(rf"(?<![\w]){re.escape(lab)}(?![\w])", sentence)
            if m:
                at[lab] = m
        if len(at) < 2:
            continue
        found = True
        order = sorted(at, key=lambda lab: at[lab].start())
        last = max(m.end() for m in at.values())
        listed = _listed_items(sentence, order)
        if listed:
            # "the letters E, C, and N respectively" where E never occurs as a label: the meanings
            # pair with every listed item, the labels found keep theirs
            order = listed
        for text in (sentence[last:], " ".join(sentences[max(0, k - 1):k])):
            t = text.lower()
            first = {}
            for role in roles:
                hits = [m.start() for c in CUES.get(role, ()) for m in re.finditer(_cue(c), t)]
                if hits:
                    first[role] = min(hits)
            if len(first) == len(order):
                return {lab: [role] for lab, role in zip(order, sorted(first, key=first.get)) if lab in at}
    return {} if found else None


def label_meanings(definition: str, labels: Sequence[str], roles: Sequence[str]) -> dict:
    """label -> the roles its definition gives it (labels it says nothing about are left out)."""
    if not definition or not labels or not roles:
        return {}
    listed = _respectively(definition, [str(x).strip() for x in labels], roles)
    if listed is not None:
        return listed
    out, negative = {}, []
    for label in labels:
        lab = str(label).strip()
        if not lab:
            continue
        found: list[str] = []
        neg = False
        for text, gloss in _contexts(definition, lab, [str(x).strip() for x in labels]):
            cued = _cued(text, roles)
            negated = bool(_NEGATION.search(text)) and not gloss
            if negated:
                neg = True
            elif cued:
                found += [r for r in cued if r not in found]
        if neg and not found:
            negative.append(label)
        elif len(found) == 1 or (found and len(found) < len(roles)):
            out[label] = found[:1] if len(found) == 1 else found
    taken = {r for rs in out.values() for r in rs}
    for label in negative:  # every role the other labels did not take
        rest = [r for r in roles if r not in taken]
        if rest:
            out[label] = rest
    return out


def roles_named(definition: str, labels: Sequence[str], roles: Sequence[str]) -> dict:
    """role -> the one label the definition gives it (roles no label or several labels claim: absent)."""
    by_role: dict = {}
    for label, rs in label_meanings(definition, labels, roles).items():
        for r in rs:
            by_role.setdefault(r, []).append(label)
    return {r: ls[0] for r, ls in by_role.items() if len(ls) == 1}


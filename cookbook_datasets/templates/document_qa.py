"""Document QA: the question is a span of a random document; the answer is the tokens after it."""

from dataclasses import dataclass

from . import register
from .base import Template, join, param


@register
@dataclass
class DocumentQA(Template):
    name = "document_qa"
    family = "search"
    description = "Find a span of a random document and answer with the tokens that follow it."
    instructions = (
        "Read the document. The question is a phrase from it: answer with the words that come "
        "right after that phrase.",
        "Find the question's words in the document and reply with the words that follow them.",
        "Answer using the document: which words come next after the phrase in the question?",
        "Locate the quoted phrase in the passage below and continue it with the passage's next words.",
    )

    doc_length: int = param(48, "Tokens in the document.", range=(8, 2048))
    question_length: int = param(4, "Tokens in the question span.", range=(1, 32))
    answer_length: int = param(3, "Tokens in the answer.", range=(1, 32))

    def validate(self):
        if self.question_length + self.answer_length > self.doc_length:
            raise ValueError(
                f"template {self.name!r}: question_length + answer_length must be at most "
                f"doc_length ({self.question_length} + {self.answer_length} > {self.doc_length})"
            )

    def generate(self, rng):
        doc = self.draw(rng, self.doc_length)
        q = self.question_length
        while True:
            start = int(rng.random() * (self.doc_length - q - self.answer_length + 1))
            question = doc[start:start + q]
            # The span must occur once so that its answer is unambiguous.
            if _find(doc, question) == start:
                return {"document": doc, "question": question, "answer_length": self.answer_length}

    def rule(self, inputs):
        doc, question = inputs["document"], inputs["question"]
        start = _find(doc, question) + len(question)
        return doc[start:start + inputs["answer_length"]]

    def render(self, inputs):
        return (f"Document: {join(inputs['document'])}\nQuestion: {join(inputs['question'])}\n"
                f"Answer with {inputs['answer_length']} words.")


def _find(doc, span):
    """First position of ``span`` in ``doc`` (-1 if absent)."""
    n = len(span)
    for i in range(len(doc) - n + 1):
        if doc[i] == span[0] and doc[i:i + n] == span:
            return i
    return -1

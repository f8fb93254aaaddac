"""MkDocs hook: the experiments' own Markdown reports, included into the pages as they are.

A page includes a report with a pymdownx.snippets line, e.g.

    --8<-- "experiments/results/self_guide/self_guide.md"

(paths from the repository root; ``check_paths`` makes a missing report fail the build). A report
is written for its own directory: its images (``![...](self_guide.png)``) are relative to it, and
its headings start at ``#``. This hook keeps both working inside a page:

- ``on_files`` adds the images under ``experiments/results/`` and ``benchmarks/results/`` to the
  site, at the same path as in the repository, as if they lay under docs/ (so a page may also
  link one directly: ``../experiments/results/augmentation/augmentation.png`` from
  ``docs/methods/``);
- ``on_page_markdown`` wraps each include line in two markers that carry the report's directory
  relative to the page and the level of the page heading above the include;
- a Markdown preprocessor that runs right after snippets (priority 31 < 32) rewrites the relative
  links between the markers to point at the report's directory, moves the report's headings below
  the page heading, and drops the markers.

So a report needs no copy and no edit: rerun its experiment and rebuild the site.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from markdown import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.structure.files import File

RESULT_DIRS = ("experiments/results/", "benchmarks/results/")
IMAGES = {".png", ".svg", ".jpg", ".jpeg", ".gif"}
INCLUDE = re.compile(r'^(?P<indent>\s*)-{2,}8<-{2,}\s+"(?P<path>[^"]+\.md)"\s*$')
FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^(#{1,6})(\s.*)$")
LINK = re.compile(r"(!?\[[^\]]*\])\(([^)\s]+)\)")
BEGIN = re.compile(r"^\s*<!-- results-include (?P<dir>\S+) (?P<level>\d) -->$")
END = "<!-- results-include-end -->"


def _includes(markdown: str):
    """(line index, indent, included path, level of the heading above it) for each include outside code."""
    in_code, level = False, 0
    for i, line in enumerate(markdown.splitlines()):
        if FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            continue
        heading = HEADING.match(line)
        if heading:
            level = len(heading.group(1))
        match = INCLUDE.match(line)
        if match and match.group("path").startswith(RESULT_DIRS):
            yield i, match.group("indent"), match.group("path"), level


def _relative(target: str) -> bool:
    return not re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", target, re.I)


def on_files(files, config):
    """Add the images under the result directories to the site, at their repository paths."""
    root = Path(config.config_file_path).parent
    for result_dir in RESULT_DIRS:
        for image in sorted((root / result_dir).rglob("*")):
            uri = image.relative_to(root).as_posix()
            if image.suffix.lower() in IMAGES and files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(image)))
    return files


def on_page_markdown(markdown, page, config, files):
    """Mark where each report is included: its directory relative to the page, the heading level above it."""
    lines = markdown.splitlines()
    page_dir = posixpath.dirname(page.file.src_uri) or "."
    for i, indent, path, level in reversed(list(_includes(markdown))):
        rel_dir = posixpath.relpath(posixpath.dirname(path), page_dir)
        lines[i:i + 1] = [f"{indent}<!-- results-include {rel_dir} {level} -->", lines[i], indent + END]
    return "\n".join(lines) + "\n"


class _ReportPreprocessor(Preprocessor):
    def run(self, lines):
        out, block, header = [], None, None
        for line in lines:
            begin = BEGIN.match(line)
            if begin:
                header, block = begin, []
            elif line.strip() == END and block is not None:
                out.extend(["", *self._fix(block, header.group("dir"), int(header.group("level"))), ""])
                block = None
            elif block is not None:
                block.append(line)
            else:
                out.append(line)
        return out

    @staticmethod
    def _fix(block, rel_dir, level):
        in_code, levels = False, []
        for line in block:
            if FENCE.match(line):
                in_code = not in_code
            elif not in_code and HEADING.match(line):
                levels.append(len(HEADING.match(line).group(1)))
        shift = max(0, level + 1 - min(levels)) if levels else 0

        def link(m):
            target = m.group(2)
            return f"{m.group(1)}({posixpath.join(rel_dir, target) if _relative(target) else target})"

        fixed, in_code = [], False
        for line in block:
            if FENCE.match(line):
                in_code = not in_code
            elif not in_code:
                heading = HEADING.match(line)
                if heading and shift:
                    line = "#" * min(6, len(heading.group(1)) + shift) + heading.group(2)
                line = LINK.sub(link, line)
            fixed.append(line)
        return fixed


class _ReportExtension(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.register(_ReportPreprocessor(md), "results_include", 31)


def on_config(config):
    config.markdown_extensions.append(_ReportExtension())
    return config

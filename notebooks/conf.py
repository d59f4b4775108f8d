"""The book: the committed, executed notebooks as a static website (``make book``), loading nothing from outside.

Sphinx with myst-nb renders notebooks without executing them (``nb_execution_mode = "off"``), so the site shows
exactly the outputs strict nbval checks; Sphinx brings search, previous/next links and the API page from the
package's numpydoc docstrings; furo, sphinx-copybutton and sphinx-mathjax-offline ship their scripts, styles and
MathJax with the package, so the built folder is self-contained.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

project = "therapy_embeddings"
author = "the therapy_embeddings authors"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx_copybutton", "sphinx-mathjax-offline"]
nb_execution_mode = "off"  # the committed outputs, never re-executed
myst_enable_extensions = ["dollarmath", "amsmath"]
exclude_patterns = ["_build", "artifacts", "checkpoints", "**/.ipynb_checkpoints"]
html_theme = "furo"
html_title = "therapy_embeddings"
html_show_sourcelink = False
html_domain_indices = False  # no module index page: api.md lists every module, and its toggler images have no alt text
html_favicon = "figures/favicon.png"  # a local icon, so the browser does not ask the server for /favicon.ico
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
suppress_warnings = ["mystnb.unknown_mime_type"]  # widget views: the pages show a picture in their place
# `make book SOLUTIONS=no`: an edition without the worked solutions, for a class that works the exercises first.
WITH_SOLUTIONS = os.environ.get("BOOK_SOLUTIONS", "yes") != "no"
SOLUTION_LINK = re.compile(r'\[[^\]\n"]*\]\(solutions/[^)\n"]*\)')  # inside one JSON string
if not WITH_SOLUTIONS:
    exclude_patterns.append("solutions")
SOLUTIONS_TOCTREE = re.compile(r"```\{toctree\}[^`]*:caption: Worked solutions[^`]*```\n")


def _download_link(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A "download this notebook" link on every notebook page."""
    if (Path(app.srcdir) / f"{pagename}.ipynb").is_file() and "body" in context:
        name = Path(pagename).name
        context["body"] = (f'<p class="download-notebook"><a href="{name}.ipynb" download>Download this notebook'
                           f" ({name}.ipynb)</a> · run it yourself: <code>make lab</code></p>") + context["body"]


def _withhold_solutions(app, docname: str, source: list[str]) -> None:
    """In the edition without solutions, links to them become a note (the notebooks' JSON text holds the links)."""
    if not WITH_SOLUTIONS:
        source[0] = SOLUTION_LINK.sub("*(withheld in this edition of the book: ask your instructor)*", source[0])
        source[0] = SOLUTIONS_TOCTREE.sub("", source[0]) if docname == "index" else source[0]


def _copy_notebooks(app, exception) -> None:
    """Put each notebook beside its page, so that the download link works offline."""
    if exception is None and app.builder.format == "html":
        for source in Path(app.srcdir).glob("**/*.ipynb"):
            relative = source.relative_to(app.srcdir)
            skipped = ("_build", "artifacts", "checkpoints") + (() if WITH_SOLUTIONS else ("solutions",))
            if relative.parts[0] not in skipped:
                (Path(app.outdir) / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, Path(app.outdir) / relative)


def setup(app) -> None:
    app.connect("source-read", _withhold_solutions)
    app.connect("html-page-context", _download_link)
    app.connect("build-finished", _copy_notebooks)

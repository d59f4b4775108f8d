"""The book: the committed, executed notebooks as a static website (``make book``), loading nothing from outside.

Sphinx with myst-nb renders notebooks without executing them (``nb_execution_mode = "off"``), so the site shows
exactly the outputs strict nbval checks; Sphinx brings search, previous/next links and the API page from the
package's numpydoc docstrings; furo, sphinx-copybutton and sphinx-mathjax-offline ship their scripts, styles and
MathJax with the package, so the built folder is self-contained.
"""

from __future__ import annotations

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
html_favicon = "figures/favicon.png"  # a local icon, so the browser does not ask the server for /favicon.ico
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
suppress_warnings = ["mystnb.unknown_mime_type"]  # widget views: the pages show a picture in their place


def _download_link(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """A "download this notebook" link on every notebook page."""
    if (Path(app.srcdir) / f"{pagename}.ipynb").is_file() and "body" in context:
        name = Path(pagename).name
        context["body"] = (f'<p class="download-notebook"><a href="{name}.ipynb" download>Download this notebook'
                           f" ({name}.ipynb)</a> · run it yourself: <code>make lab</code></p>") + context["body"]


def _copy_notebooks(app, exception) -> None:
    """Put each notebook beside its page, so that the download link works offline."""
    if exception is None and app.builder.format == "html":
        for source in Path(app.srcdir).glob("**/*.ipynb"):
            relative = source.relative_to(app.srcdir)
            if relative.parts[0] not in ("_build", "artifacts", "checkpoints"):
                (Path(app.outdir) / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, Path(app.outdir) / relative)


def setup(app) -> None:
    app.connect("html-page-context", _download_link)
    app.connect("build-finished", _copy_notebooks)

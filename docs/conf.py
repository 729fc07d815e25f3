"""Sphinx configuration of rbm's documentation (``make docs`` builds it into docs/_build/html)."""
import argparse
import importlib
import os
import pkgutil
import shutil
import sys

from docutils import nodes
from docutils.parsers.rst import Directive

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the working tree's rbm, even without an editable install

import rbm  # noqa: E402  (after the path above)

project = "rbm"
author = "The rbm developers"
copyright = "The rbm developers (MIT License)"
version = release = rbm.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build"]
# Every cross-reference must resolve: a renamed function breaks the build instead of leaving a dead link.
nitpicky = True
# Instance attributes are described in numpydoc "Attributes" sections, which make no link targets: a
# :attr: reference to one (``rbm.Trainer.history``) renders as code without a link instead of failing.
nitpick_ignore_regex = [("py:attr", r".*")]

# ---------------------------------------------------------------- API reference
# The stub pages autosummary writes (one per public name, listed from each module's __all__) are
# build products: start from an empty folder so that a name removed from __all__ leaves no stale page.
shutil.rmtree(os.path.join(HERE, "api", "generated"), ignore_errors=True)
autosummary_generate = True
autosummary_ignore_module_all = False  # __all__ decides what is public
autosummary_imported_members = True  # rbm.RBM is imported from rbm.models.rbm
# Names that rbm re-exports from its subpackages are documented once, under ``rbm``; the subpackages'
# pages link to them. Modules in a module's __all__ (rbm.backend re-exports pytensor and its tensor
# and random modules for rbm's own use) are PyTensor's, not rbm's API, and are not documented here.


def _same_as_top_level(module_name):
    """The names in ``module_name.__all__`` that are the very objects of ``rbm.__all__`` (rbm.models.RBM...)."""
    module = importlib.import_module(module_name)
    return [name for name in getattr(module, "__all__", ())
            if module_name != "rbm" and name in rbm.__all__ and getattr(module, name) is getattr(rbm, name)]


_MODULES = ["rbm"] + [info.name for info in pkgutil.walk_packages(rbm.__path__, "rbm.")]
autosummary_context = {"linked_names": {name: _same_as_top_level(name) for name in _MODULES}}

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # types live in the numpydoc sections
autodoc_inherit_docstrings = True

numpydoc_show_class_members = False  # the class template lists members with autodoc instead
numpydoc_xref_param_type = False
numpydoc_attributes_as_param_list = True
# Fail the build (warnings are errors) when a public callable lacks a docstring, leaves a parameter
# undocumented, documents one it does not take, or returns something without a Returns section.
numpydoc_validation_checks = {"GL08", "PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {
    r"\.__\w+__$",  # special methods (__call__, __repr__, ...) are described by their class
    r"\._\w+$",  # private helpers
}

# ------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"rbm {release}"
html_static_path = ["_static"]
html_css_files = ["rbm.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "navbar_persistent": ["search-button"],  # the icon: leaves the navbar room for every section
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_sidebars = {"index": [], "getting_started": [], "from_theano": [], "results": [], "cli": []}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document rbm's own members only.

    Classes show inherited members (the Gaussian-Bernoulli RBM's come from the RBM, the estimators' from
    a private base class), but not those of foreign bases: scikit-learn's mixins, PyTensor's linkers,
    ``tuple`` and ``Exception``; and not a namedtuple's field properties ("Alias for field number 0"),
    which its Parameters section describes.
    """
    if what not in ("class", "exception"):
        return None
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    function = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    owner = getattr(function, "__objclass__", None)  # methods of built-in types (tuple.count) name their class
    module = getattr(owner or function, "__module__", None)
    if callable(function) and module is not None and not module.startswith("rbm"):
        return True
    return None


class CommandHelp(Directive):
    """``.. rbm-help:: [COMMAND]``: the ``rbm`` command's help text, as ``rbm [COMMAND] --help`` prints it.

    Rendered from rbm.cli's own parser when the documentation is built, so the page cannot fall
    behind the command; 88 columns wide, whatever the terminal.
    """

    optional_arguments = 1

    def run(self):
        from rbm import cli

        previous = os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal's width
        try:
            parser = cli.build_parser()
            if self.arguments:
                commands = next(action for action in parser._actions
                                if isinstance(action, argparse._SubParsersAction))
                parser = commands.choices[self.arguments[0]]
            text = parser.format_help()
        finally:
            if previous is None:
                del os.environ["COLUMNS"]
            else:
                os.environ["COLUMNS"] = previous
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return [block]


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.add_directive("rbm-help", CommandHelp)

"""Sphinx configuration of the course website, staged beside the pages by :mod:`sgt_course.tools.site`,
which writes ``site.json`` (the run profile of the pages) next to it."""

import json
from pathlib import Path

_site = json.loads((Path(__file__).parent / "site.json").read_text())

project = "SGT and ASGT: a hands-on course"
author = "sgt-course"
extensions = ["myst_nb", "sphinx.ext.githubpages"]  # githubpages: a .nojekyll file, for GitHub Pages
exclude_patterns = ["downloads/**", "extra/**", "site.json"]

# The notebooks arrive executed (sgt_course.tools.site decides what to run); MyST-NB only renders them.
nb_execution_mode = "off"
nb_output_stderr = "show"
nb_merge_streams = True
nb_render_markdown_format = "myst"  # Markdown a cell displays (the removal study's table) as MyST: tables, math
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3

# MathJax 2 copied into _static/mathjax/ (from jupyter-server-mathjax, as for the deck): equations need no
# network. MathJax looks only inside the elements Sphinx marks as math (class "math"), never at dollar
# signs in code or output. That package ships the STIX web fonts and no TeX fonts, so every letter is
# set in STIX; MathJax_Blank, a font MathJax points at about:blank, is made local. The hidden MathML
# that MathJax adds for screen readers would ask for the missing TeX fonts of calligraphic and
# blackboard letters (the notebooks write U(a, b) as \mathcal U): it gets a local font instead.
mathjax_path = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
_TEX_FONT_STYLES = ['[class="MJX-tex-oldstyle"]', '[class="MJX-tex-oldstyle-bold"]', '[class="MJX-tex-caligraphic"]',
                    '[class="MJX-tex-caligraphic-bold"]', '[mathvariant="double-struck"]', '[mathvariant="script"]',
                    '[mathvariant="fraktur"]', '[mathvariant="bold-script"]', '[mathvariant="bold-fraktur"]']
mathjax2_config = {
    "tex2jax": {"ignoreClass": ".*", "processClass": "math"},
    "HTML-CSS": {"availableFonts": [], "imageFont": None, "preferredFont": None, "webFont": "STIX-Web",
                 "styles": {"@font-face": {"font-family": "MathJax_Blank", "src": "local('MathJax_Blank')"}}},
    "NativeMML": {"styles": {selector: {"font-family": "serif"} for selector in _TEX_FONT_STYLES}},
    "fast-preview": {"disabled": True},
    "messageStyle": "none",
}
myst_update_mathjax = False

html_theme = "sphinx_book_theme"
html_title = f"SGT and ASGT · {_site['profile']} profile"
html_static_path = ["_static"]
html_css_files = ["site.css"]
html_extra_path = ["extra"]
html_show_sourcelink = False
html_copy_source = False
html_last_updated_fmt = None
html_context = {"default_mode": "light"}  # the theme's light/dark switch starts somewhere definite
html_theme_options = {
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "secondary_sidebar_items": [],  # no in-page contents on the right: the figures get its width (site.css)
    "extra_footer": f"Every page shows the outputs of one run in the {_site['profile']} profile; "
                    "its box at the top says where and when.",
}

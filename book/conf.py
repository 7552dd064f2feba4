"""Sphinx settings of the course book, built by `python -m tools.book` into build/book/.

The book is read offline (by readers and by CI without a network): the notebooks are shown with the
outputs stored in them, never executed, and MathJax is served from the build (sphinx-mathjax-offline),
not from a CDN.
"""
project = "Residual Networks, from the equations to ResNet-152"
html_title = "Residual Networks"

extensions = ["myst_nb", "sphinx-mathjax-offline", "sphinx.ext.githubpages"]   # githubpages: .nojekyll

# Stored outputs are the course's reference results; executing here would need TensorFlow and minutes.
nb_execution_mode = "off"
# $...$ and $$...$$ as in JupyterLab; raw HTML such as <details> answers passes through as it is.
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": False,     # it would offer raw sources, which the book does not ship
    "use_fullscreen_button": False,
    "footer_content_items": [],       # no author or licence line: the repository says neither
}
html_use_index = False                # the notebooks define no index entries: it would be an empty page
# The theme's script logs an error on a reader's first visit unless the colour mode has a default.
html_context = {"default_mode": "auto"}
html_favicon = "favicon.svg"      # browsers ask for one; without it every first visit logs a 404
# The theme puts a search box in the header and another in the sidebar; one is enough.
html_sidebars = {"**": ["navbar-logo", "sbt-sidebar-nav.html"]}
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None

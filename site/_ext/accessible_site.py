"""The site's own Sphinx extension: accessibility fixes to the markup its themes write.

MyST-NB's solution toggles are ``<summary aria-label="Toggle hidden content">`` around the
visible words "Show a solution": a speech-input user saying the words on screen would not reach
the control (WCAG 2.5.3, Label in Name). Here the summary's name is its visible text.
"""

from html import escape

from myst_nb.sphinx_ import HideCodeCellNode


def visit_hide_input(self, node):
    self.body.append(f'<details class="admonition hide {" ".join(node["classes"])}">\n<summary>\n'
                     f'<p class="collapsed admonition-title">{escape(node["prompt_show"])}</p>\n'
                     f'<p class="expanded admonition-title">{escape(node["prompt_hide"])}</p>\n</summary>\n')


def depart_hide_input(self, node):
    self.body.append("</details>\n")


def setup(app):
    app.add_node(HideCodeCellNode, override=True, html=(visit_hide_input, depart_hide_input))
    return {"parallel_read_safe": True, "parallel_write_safe": True}

"""What logicpo shows a person about a loss, beyond the bare regions.

- :mod:`logicpo.display.standing`: where a structure stands among known ones (the same
  regions, the same up to ``ref``/``flip``, the nearest stronger and weaker ones);
- :mod:`logicpo.display.reading`: a paragraph in plain words of which worlds count for and
  against the preference;
- :mod:`logicpo.display.html`: HTML and LaTeX views for notebooks (``_repr_html_``) and the
  self-contained page that ``logicpo show NAME --html card.html`` writes.

This layer sits above reasoning (it asks the order between structures) and below the CLI;
it never prints.
"""

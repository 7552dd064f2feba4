"""The ResNets course's code. Students import from ``resnets_utils`` (the one module the notebooks name),
which re-exports what the notebooks use from here; the manual's "Layout" (book/manual/faq.md) lists the modules.

- For the notebooks: ``environment``, ``errors``, ``data``, ``exercises``, ``training``, ``plots``,
  ``numpy_blocks``, ``counting``, ``architecture``, ``keras_internals`` and the ``checks`` package.
- For instructors: ``judge`` (the pytest plugin that judges a student notebook against the pristine
  release), ``judge_kernel`` (its part inside the notebook's kernel), ``grading`` (``tools.grade``) and
  ``releases/`` (every published release's judge files, by release id).
"""

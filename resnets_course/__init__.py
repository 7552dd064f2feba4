"""The ResNets course's helper package.

Students import from ``resnets_utils`` (the one module the notebooks name); the code behind it lives here.

- ``judge``: the pytest plugin that judges a student notebook against the pristine release (README's
  student check command and ``tools.grade`` both use it).
- ``judge_kernel``: the part of the judge that runs inside the notebook's kernel (guards the checks,
  keeps the student's prints out of compared outputs).
- ``releases/``: every published release's judge files, by release id.
"""

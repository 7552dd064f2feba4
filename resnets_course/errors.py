"""The course's exceptions: each message is the whole story, so notebooks show it without a traceback."""
from __future__ import annotations

class CourseError(Exception):
    """An error whose message is the whole story: notebooks show it without a traceback."""

    def _render_traceback_(self):  # IPython calls this instead of printing the traceback
        return [f"{type(self).__name__}: {self}"]


class CheckFailed(CourseError, AssertionError):
    """A graded check failed; the message says what to change (shared by all the notebooks' checks)."""


class DatasetError(CourseError):
    """The dataset file is missing, unreadable, or not in the SIGNS format."""

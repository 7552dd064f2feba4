"""python -m tools.grade SUBMISSIONS/ [options]: grade a class (see resnets_course/grading.py).

The code lives in the installed package, so that Dask workers on other machines can run it too."""
import sys

from resnets_course.grading import main

if __name__ == "__main__":
    sys.exit(main())

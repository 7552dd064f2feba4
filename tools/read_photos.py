"""Read a set of photographs of the signs with the course's trained models: notebook 04's (trained on the
rendered hands) and notebook 06's (fine-tuned on the real photographs), or any saved model.

    python -m tools.read_photos PHOTOS                      # the models the notebooks saved, beside them
    python -m tools.read_photos PHOTOS --model a.keras b.keras

PHOTOS is a folder with one subfolder per sign (0 to 5) of JPEG or PNG photos, any size (each is read as
notebook 04 reads a photo of one's own: upright, the central square, 64x64), or a SIGNS-format .h5 file such
as the original assignment's test_signs.h5. Each photo is read as it is and mirrored, as the notebooks read
the test sets. Prints each model's accuracy and its recall on each sign.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from resnets_course.environment import REPO
from resnets_course.errors import CourseError
from resnets_course.transfer import FINE_TUNED_MODEL, SAVED_MODEL, photos_table, read_photos

#: The files notebooks 04 and 06 save beside the notebooks.
MODELS = {"notebook 04 (rendered hands)": REPO / "notebooks" / SAVED_MODEL,
          "notebook 06 (fine-tuned on photos)": REPO / "notebooks" / FINE_TUNED_MODEL}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("photos", type=Path)
    parser.add_argument("--model", type=Path, nargs="+", help="saved Keras models (default: 04's and 06's)")
    args = parser.parse_args(argv)
    models = {str(p): p for p in args.model} if args.model else {n: p for n, p in MODELS.items() if p.exists()}
    if not models:
        print("No model to read the photos with: run notebook 04 (and 06) to the end, or name a file with "
              "--model.", file=sys.stderr)
        return 1
    from resnets_course.environment import import_tensorflow_quietly

    import_tensorflow_quietly()
    try:
        rows = read_photos(args.photos, models)
    except CourseError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"{rows[0]['photos']} photos from {args.photos}, each read as it is and mirrored")
    print(photos_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

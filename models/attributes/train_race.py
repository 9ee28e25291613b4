"""Train the race head: ``python -m models.attributes.train_race [--data DIR]``
-> weights/race_utkface.{npz,json}; ``python -m models.build --force race_utkface`` serves it."""
import sys

from models.attributes.classify import main

if __name__ == "__main__":
    sys.exit(main("race"))

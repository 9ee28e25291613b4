"""Train the gender head: ``python -m models.attributes.train_gender [--data DIR]``
-> weights/gender_xcloud.{npz,json}; ``python -m models.build --force gender_xcloud`` serves it."""
import sys

from models.attributes.classify import main

if __name__ == "__main__":
    sys.exit(main("gender"))

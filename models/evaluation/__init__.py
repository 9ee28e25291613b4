"""Evaluation of served models on real labelled data (``xcloud eval NAME``)."""

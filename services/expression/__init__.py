"""Facial expression (7 classes) of one aligned face crop."""

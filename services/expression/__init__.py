"""Facial expression (7 classes) of aligned face crops, every face of an image in one call."""

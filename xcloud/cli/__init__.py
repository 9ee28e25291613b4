"""The ``xcloud`` command line: analyze images, check the stack, list models, run evaluations."""

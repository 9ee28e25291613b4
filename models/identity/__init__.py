"""The face identity embedding: frozen face nets -> a projection learned on labelled people,
its calibrated thresholds and its evaluation (``xcloud eval identity``)."""

"""Animal re-identification: a metric-learning head on frozen MobileNetV2 features."""

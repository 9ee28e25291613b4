"""Face attributes of one aligned crop (age, gender, race, beauty) and its 128-d embedding."""

"""Face attributes (age, gender, race, beauty) and the face embedding of aligned crops, every
face of an image in one call."""

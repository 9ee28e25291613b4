"""The shared serving runtime: the only code every XCloud service imports."""

"""2D pose: BlazePose models converted from TFLite and run on the project's own backends."""

"""3D lifting: mocap, virtual cameras, 2D error model, datasets, metrics and the runtime Lifter (no torch)."""

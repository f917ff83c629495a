"""Command-line tools (offline processing, model export, engine building); they never spin a node."""

"""Non-verbal cues: face and hand models, cue definitions, per-person events with evidence (see docs/cues.md)."""

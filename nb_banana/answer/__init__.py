"""What a turn gives back: Result, EachResult, Comparison, DryRun, and how they are shown."""

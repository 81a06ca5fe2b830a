"""Run folders: written atomically, read back."""

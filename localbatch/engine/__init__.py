"""The in-process engine: one Backend per (account, region), no threads."""

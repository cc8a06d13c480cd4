"""The chaos suite: crashes, faults, revoked tokens, races, full disks and bad input, end to end."""
